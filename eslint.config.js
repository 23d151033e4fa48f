// Lint rules that catch real bugs, not taste (see ../shared/STYLE.md).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['src/transport/gen/**', 'dist/**', 'node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Modules talk to each other only through their index.ts.
              regex:
                '^(\\.\\./)+(src/)?(api|platform|raft|state|ca|transport|manager|agent|network|httpapi|node|cli|dashboard|sim)/(?!index\\.js$)',
              message: 'Import another module through its index.ts, not its internals.',
            },
          ],
        },
      ],
    },
  },
);
