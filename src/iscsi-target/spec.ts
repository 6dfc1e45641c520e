/** Checks of a TargetSpec shared by both backends; each passes its own portal check. */
import { InvalidArgument } from '../errors.js';
import { assertIscsiName, assertSerial } from './iqn.js';
import type { Portal, TargetSpec } from './types.js';

export function validateTargetSpec(spec: TargetSpec, checkPortal: (p: Portal) => void): void {
  assertIscsiName('iqn', spec.iqn);
  assertSerial(spec.serial);
  if (!spec.devicePath.startsWith('/') || /[\s,]/.test(spec.devicePath)) {
    throw new InvalidArgument(
      'devicePath',
      `${JSON.stringify(spec.devicePath)} must be an absolute path without spaces or commas`,
    );
  }
  if (spec.portals.length === 0) throw new InvalidArgument('portals', 'at least one portal is needed');
  for (const p of spec.portals) checkPortal(p);
}
