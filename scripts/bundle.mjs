// The second half of `npm run build`: tsc has emitted dist/ (one file per module); this bundles
// dist/main.js and everything it imports into dist/main.js itself, one ES module.
//
// Why: a process start is paid on every storage node and in every test. Node resolves and compiles
// several hundred files for the unbundled entry (grpc-js, protobufjs, pino, prom-client and
// ours); in the qemu guest of the VM tier (software emulation) `node dist/main.js --help` took
// 12-15 s warm and 26-30 s cold, the bundle 2.7-2.8 s either way (same guest, 2026-12-01). On a real
// node the gain is smaller but the same in kind.
//
// What stays outside: @kubernetes/client-node, which only Kubernetes discovery loads (a dynamic
// import, resolved from node_modules when used). The rest of dist/ stays as tsc wrote it (the tests
// import modules from src/, never from dist/). esbuild is the bundler vitest already runs on;
// keepNames keeps class and function names as written (error classes are told apart by name in
// logs), and the banner gives the CommonJS dependencies a real require.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/main.js'],
  outfile: 'dist/main.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  keepNames: true,
  external: ['@kubernetes/client-node'],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// tsc's map of the unbundled main.js no longer matches the file
rmSync('dist/main.js.map', { force: true });
