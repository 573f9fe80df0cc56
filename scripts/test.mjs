// `npm test`: installs what is missing, builds, starts a throw-away Cassandra and Redis (unless
// CASSANDRA_CONTACT_POINTS / REDIS_URL name existing ones), runs every unit, integration and e2e
// test file with node's test runner, stops everything, and exits non-zero on any failure.
// `npm test -- <fragment>…` runs only the test files whose path contains a fragment.
import { spawn } from 'node:child_process';
import { ensureDebianCommand } from './infra/apt.mjs';
import { acquireRunLock } from './infra/run-lock.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, lint, log, ROOT, specFiles } from './lib/project.mjs';
import { authSecret } from './lib/secrets.mjs';
import { Stack } from './lib/stack.mjs';

const started = Date.now();
const stack = new Stack();
stack.stopOnSignals((signal) => log(`${signal}: stopping the test run…`));

let exitCode;
try {
  await ensureDependencies();
  await build();
  await lint();
  const files = specFiles(process.argv.slice(2));
  if (files.length === 0) throw new Error('no test files found');

  // The lock guards the test data directory, so it is only needed when this run starts Cassandra.
  if (!process.env.CASSANDRA_CONTACT_POINTS) stack.push('run lock', acquireRunLock(ROOT, 'test'));
  // Tests start private redis-servers and drive Debian's Chromium: both install while Cassandra starts.
  const [infraEnv] = await Promise.all([
    provideInfra(stack, { name: 'test', fresh: true }),
    ensureDebianCommand({ command: 'redis-server', pkg: 'redis-server', log }),
    ensureDebianCommand({ command: 'chromium', pkg: 'chromium', log }),
  ]);

  log(`running ${files.length} test files…`);
  const runner = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=240000', ...files], {
    cwd: ROOT,
    stdio: 'inherit',
    // Every app a test starts inherits the run's user-token secret; the helpers mint tokens with it.
    env: { ...process.env, ...infraEnv, AUTH_JWT_SECRET: authSecret().value, NODE_ENV: 'test' },
  });
  exitCode = await new Promise((resolve) => runner.once('exit', (code) => resolve(code ?? 1)));
} catch (error) {
  console.error(`[kubescaler] test run failed: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await stack.stopAll();
}
log(`test run ${exitCode === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(exitCode);
