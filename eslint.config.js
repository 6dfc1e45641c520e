// typescript-eslint over src/ and test/: the recommended rules plus the type-checked ones, which find
// real bugs (floating and misused promises, awaits of non-promises, `any` leaking into typed code).
// `npm run lint` must report nothing; CI (test/run-all.sh) fails on any finding. Formatting is
// prettier's job (npm run format:check), not eslint's.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'src/gen/', '.vm/', 'node_modules/', 'charts/', 'deploy/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Off: an async method that implements a Promise-returning interface (ports such as IscsiTarget,
      // the fakes, gRPC handlers) reads better as `async` with no await than as Promise.resolve()
      // wrapping, and it turns a synchronous throw into a rejection, which callers rely on. The rules
      // that catch real promise bugs (no-floating-promises, no-misused-promises, await-thenable) stay on.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter an implementation must accept and does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest's asymmetric matchers (expect.stringMatching, expect.any, ...) are typed `any`, and
      // every use inside an expected object would be reported.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['test/unit/packaging/**/*.ts', 'test/kube/**/*.ts'],
    rules: {
      // These tests walk parsed Kubernetes YAML and kubectl JSON and assert their fields one by one;
      // typing every path would copy the Kubernetes API types (kubernetes-models checks the schema).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // plain JavaScript (CI scripts, the VM harness, the bench runner, this file): no type information
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      parserOptions: { project: false, projectService: false },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
      },
    },
  },
);
