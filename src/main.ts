#!/usr/bin/env node
/**
 * csi-lvm-iscsi: parse flags, start the plugin, stop gracefully on SIGTERM/SIGINT.
 */
import { runAdopt } from './adopt-command.js';
import { startPlugin } from './app.js';
import { ADOPT_HELP, ConfigError, helpText, loadAdoptConfig, loadConfig } from './config.js';

async function adopt(): Promise<number> {
  try {
    const c = loadAdoptConfig();
    if ('help' in c) {
      process.stdout.write(`${ADOPT_HELP}\n`);
      return 0;
    }
    await runAdopt(c, process.stdout);
    return 0;
  } catch (e) {
    process.stderr.write(`csi-lvm-iscsi adopt: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof ConfigError ? 2 : 1;
  }
}

async function main(): Promise<number> {
  if (process.argv[2] === 'adopt') return adopt();
  let loaded;
  try {
    loaded = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`csi-lvm-iscsi: ${e.message}\nRun csi-lvm-iscsi --help for the flags.\n`);
      return 2;
    }
    throw e;
  }
  if (loaded.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const plugin = await startPlugin(loaded.config);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.stderr.write(`csi-lvm-iscsi: ${sig} received, finishing in-flight calls\n`);
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await plugin.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`csi-lvm-iscsi: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
