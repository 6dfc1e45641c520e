#!/usr/bin/env node
/**
 * csi-lvm-iscsi: parse flags, start the plugin, stop gracefully on SIGTERM/SIGINT.
 */
import { runAdopt } from './adopt-command.js';
import { CHAP_NODE_KEY_HELP, parseChapNodeKeyArgs, runChapNodeKey } from './chap-node-key-command.js';
import { startPlugin } from './app.js';
import { ADOPT_HELP, ConfigError, helpText, loadAdoptConfig, loadConfig } from './config.js';

/**
 * A subcommand (`adopt`, `chap-node-key`): its flags parsed, --help printed, or its run; a bad flag
 * exits 2 (ConfigError), any other failure 1, each with one line on stderr.
 */
async function subcommand<A extends object>(
  name: string,
  help: string,
  parse: () => A | { help: true },
  run: (a: A) => Promise<void>,
): Promise<number> {
  try {
    const a = parse();
    if ('help' in a) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    await run(a);
    return 0;
  } catch (e) {
    process.stderr.write(`csi-lvm-iscsi ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof ConfigError ? 2 : 1;
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function main(): Promise<number> {
  if (process.argv[2] === 'adopt')
    return subcommand('adopt', ADOPT_HELP, loadAdoptConfig, (c) => runAdopt(c, process.stdout));
  if (process.argv[2] === 'chap-node-key')
    return subcommand(
      'chap-node-key',
      CHAP_NODE_KEY_HELP,
      () => parseChapNodeKeyArgs(process.argv.slice(3)),
      (a) => runChapNodeKey(a, readStdin, process.stdout),
    );
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
