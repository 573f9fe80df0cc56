import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '.cache/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through @app/config (loadConfig) only.' },
      ],
    },
  },
  {
    // The web client runs in the browser.
    files: ['public/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'document',
          'location',
          'fetch',
          'performance',
          'setInterval',
          'setTimeout',
          'addEventListener',
          'AbortController',
          'TextDecoder',
          'sessionStorage',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // Entry points, scripts and test infrastructure are where the environment is read.
    files: ['apps/*/src/main.ts', 'apps/*/src/migrate.ts', 'scripts/**', 'libs/infra/**', 'libs/testing/**', 'test/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
