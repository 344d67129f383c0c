// Lints every folder (core, CLI, server, extension, webview, tests, bench) with type information, so
// that floating promises are errors everywhere, not only in the extension.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'samples/**', '.vscode-test/**', 'test-output/**', 'media/vendor/**', 'scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Proto fields are plain numbers compared with DataType/AttributeType codes by design.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      'no-console': 'off',
    },
  },
  {
    // The language server talks LSP over stdio: a stray console.log would corrupt the protocol.
    files: ['src/server/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: globals.node } },
);
