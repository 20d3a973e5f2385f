// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'bin/',
      'scripts/*.mjs',
      'scripts/*.cjs',
      'test/fixtures/**/*.mjs',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
    },
  },
  {
    // The library never logs and never reads the environment (DESIGN.md §4): apps do.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/server/**', 'src/demo/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'The library never reads the environment; apps translate RCPT_* into options.',
        },
      ],
    },
  },
  {
    // The web page's script is served to browsers as written (no bundler, no TypeScript): plain JS rules.
    files: ['src/web/static/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'fetch',
          'sessionStorage',
          'location',
          'URL',
          'Blob',
          'FormData',
          'TextDecoder',
          'AbortController',
          'Headers',
          'ResizeObserver',
          'HTMLElement',
          'Intl',
          'console',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // node:assert's `asserts` signatures narrow values, which makes later optional chains look needless.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
);
