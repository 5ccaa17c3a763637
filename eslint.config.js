// Lint rules for the whole repo; extension/protocol/ is held to "pure core": no browser or Node APIs.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const esBuiltins = new Set(Object.keys(globals.es2024));
const hostGlobals = [
  ...new Set([...Object.keys(globals.browser), ...Object.keys(globals.node)]),
].filter((name) => !esBuiltins.has(name));

export default tseslint.config(
  { ignores: ['node_modules/', '.output/', '.wxt/', 'data/', 'coverage/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Use a CSPRNG (crypto.getRandomValues / @noble randomBytes).',
        },
      ],
    },
  },
  {
    files: ['extension/protocol/**/*.ts'],
    // Tests of the core and their helpers (`x.test.ts`, `x.test-helper.ts`) may use test tools:
    // vitest, fast-check, reference implementations, Node APIs.
    ignores: ['extension/protocol/**/*.test.{ts,tsx}', 'extension/protocol/**/*.test-*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.es2024 } },
    rules: {
      'no-restricted-globals': [
        'error',
        ...hostGlobals.map((name) => ({
          name,
          message:
            'extension/protocol is a pure core: no browser or Node globals; take it as an input.',
        })),
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@noble/|\\.{1,2}/)',
              message: 'extension/protocol may import only @noble/* and its own files.',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Never Math.random in crypto code.' },
        { object: 'Date', property: 'now', message: 'The core takes the time as an input.' },
      ],
      'no-console': 'error',
    },
  },
);
