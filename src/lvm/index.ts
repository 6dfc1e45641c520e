/** LVM: argv builders, JSON report parsers, error classification, tag and name codecs. */
export * from './settings.js';
export * from './report.js';
export * from './classify.js';
export * from './tags.js';
export * from './names.js';
export * from './lvm.js';
