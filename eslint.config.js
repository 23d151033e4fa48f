// Lint rules that catch real bugs, not taste (see ../shared/STYLE.md).
import tseslint from 'typescript-eslint';

const MODULES =
  'api|platform|engineclient|raft|state|ca|transport|manager|agent|network|httpapi|daemon|cli|dashboard|sim';
/** Modules talk to each other only through their index.ts. */
const INDEX_ONLY = {
  regex: `^(\\.\\./)+(src/)?(${MODULES})/(?!index\\.js$)`,
  message: 'Import another module through its index.ts, not its internals.',
};

/**
 * The arrows of docs/ARCHITECTURE.md: files under `dir` may not import these modules (an import
 * that points up the layers fails lint). `up` is how many `../` reach src/ from those files, so
 * a folder inside a module (raft/log, raft/node) is never taken for a module of src/.
 */
function layer(dir, forbidden, { up = '(\\.\\./)+', also = [] } = {}) {
  return {
    files: [`src/${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: also.map((name) => ({ name, message: `${dir} knows no ${name}: see docs/ARCHITECTURE.md` })),
          patterns: [
            INDEX_ONLY,
            {
              regex: `^${up}(${forbidden.join('|')})/`,
              message: `${dir} may not import ${forbidden.join(', ')}: dependencies point one way (docs/ARCHITECTURE.md).`,
            },
          ],
        },
      ],
    },
  };
}
const ABOVE_AGENTS = ['httpapi', 'daemon', 'cli', 'dashboard', 'sim'];

export default tseslint.config(
  {
    ignores: [
      'src/transport/gen/**',
      'dist/**',
      'node_modules/**',
      'bin/**',
      'scripts/**',
      'eslint.config.js',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-restricted-imports': ['error', { patterns: [INDEX_ONLY] }],
    },
  },
  layer(
    'api',
    MODULES.split('|').filter((m) => m !== 'api'),
  ),
  layer(
    'platform',
    MODULES.split('|').filter((m) => !['api', 'platform'].includes(m)),
  ),
  layer('raft', ['state', 'ca', 'transport', 'manager', 'agent', 'network', ...ABOVE_AGENTS], {
    up: '\\.\\./\\.\\./',
  }),
  // The consensus core imports nothing of ours but its own types: not the WAL, not the Raft driver.
  layer('raft/core', ['log', 'node', ...MODULES.split('|')]),
  layer('state', ['ca', 'transport', 'manager', 'agent', 'network', ...ABOVE_AGENTS]),
  layer('ca', ['state', 'transport', 'manager', 'agent', 'network', ...ABOVE_AGENTS]),
  layer('transport', ['manager', 'agent', 'network', ...ABOVE_AGENTS]),
  layer('manager', ['agent', ...ABOVE_AGENTS], { also: ['fastify', 'node:http', 'node:https'] }),
  layer('agent', ['manager', ...ABOVE_AGENTS]),
  layer('network', ['manager', 'agent', ...ABOVE_AGENTS]),
  // The one Engine API client, for the agent and the CLI: Engine API types and node builtins only.
  layer(
    'engineclient',
    MODULES.split('|').filter((m) => !['api', 'platform', 'engineclient'].includes(m)),
  ),
  // The CLI is a client of the Engine API: it loads nothing of the daemon (`shoal --help` stays
  // quick). Its files sit one or two folders down, and none of its own folders has these names.
  layer('cli', [
    'daemon',
    'httpapi',
    'manager',
    'agent',
    'network',
    'state',
    'raft',
    'transport',
    'ca',
    'sim',
  ]),
  // The API gets what it needs from the daemon through its ApiBackend; the daemon builds the API.
  layer('httpapi', ['daemon', 'cli', 'sim']),
  // shoald's daemon is below the CLI (shoal) and the simulator.
  layer('daemon', ['cli', 'sim']),
);
