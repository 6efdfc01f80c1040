import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.stack/**', '.kafka/**', 'bench/results/**', 'console/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [{ name: '@platformatic/kafka', message: 'Only packages/messaging/src/kafka.ts imports the Kafka client.' }] }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through loadConfig in main.ts.' }],
    },
  },
  { files: ['packages/messaging/src/kafka.ts'], rules: { 'no-restricted-imports': 'off' } },
  // Every other package builds on the runtime, so it imports none of them.
  {
    files: ['packages/runtime/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@platformatic/kafka', message: 'Only packages/messaging/src/kafka.ts imports the Kafka client.' }],
        patterns: [{ group: ['@trackops/*'], message: '@trackops/runtime depends on no other TrackOps package.' }],
      }],
    },
  },
  { files: ['**/main.ts', 'scripts/**', 'tests/**', 'bench/**', '**/test/**', 'vitest.config.ts'], rules: { 'no-restricted-properties': 'off' } },
  { files: ['tests/**', '**/test/**', 'bench/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // the supervisor's process file is CommonJS, as PM2 reads it
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
)
