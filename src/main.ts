#!/usr/bin/env node
/**
 * csi-lvm-iscsi: parse flags, start the plugin, stop gracefully on SIGTERM/SIGINT.
 */
import { startPlugin } from './app.js';
import { ConfigError, helpText, loadConfig } from './config.js';

async function main(): Promise<number> {
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
    process.stderr.write(`csi-lvm-iscsi: fatal: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
