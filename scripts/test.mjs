// `npm test`: installs what is missing, builds, starts a throw-away Cassandra and Redis (unless
// CASSANDRA_CONTACT_POINTS / REDIS_URL name existing ones), runs every unit, integration and e2e
// test file with node's test runner, stops everything, and exits non-zero on any failure.
// `npm test -- <fragment>…` runs only the test files whose path contains a fragment (`!fragment`
// leaves them out). The local-cluster e2e (which builds the control plane once into
// .cache/cluster/) runs alone after the others.
import { spawn } from 'node:child_process';
import { ensureImages } from './cluster/images.mjs';
import { ensureClusterTools } from './cluster/tools.mjs';
import { ensureDebianCommand } from '../libs/infra/apt.mjs';
import { ensureNginx } from '../libs/infra/nginx.mjs';
import { acquireRunLock } from '../libs/infra/run-lock.mjs';
import { ensureK8sTools } from './k8s-tools.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, lint, log, ROOT, specFiles } from './lib/project.mjs';
import { UNTHROTTLED } from './lib/app-env.mjs';
import { authSecret, internalToken } from './lib/secrets.mjs';
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
  // Tests start private redis-servers and nginx gateways and drive Debian's Chromium: all three
  // install while Cassandra starts. The cluster e2e needs the local Kubernetes binaries and images
  // (built once into .cache/, minutes cold).
  const isCluster = (file) => /[/\\]cluster\.e2e-spec\.js$/.test(file);
  const clusterFiles = files.filter(isCluster);
  const otherFiles = files.filter((file) => !isCluster(file));
  const [infraEnv] = await Promise.all([
    provideInfra(stack, { name: 'test', fresh: true }),
    ensureDebianCommand({ command: 'redis-server', pkg: 'redis-server', log }),
    ensureNginx(log),
    ensureDebianCommand({ command: 'chromium', pkg: 'chromium', log }),
    clusterFiles.length > 0 && ensureK8sTools(),
    // The cluster's binaries, then its images (they embed some of the binaries).
    clusterFiles.length > 0 &&
      ensureClusterTools().then((tools) => ensureImages({ root: ROOT, tools, log: (line) => log(`[images] ${line}`) })),
  ]);
  // Every app a test starts inherits the run's user-token secret; the helpers mint tokens with it.
  // ... and the internal service credential base asks of main and stream (the helpers send it to base).
  const env = {
    ...process.env,
    ...infraEnv,
    AUTH_JWT_SECRET: authSecret().value,
    INTERNAL_TOKEN: internalToken().value,
    // Every test client is 127.0.0.1: the per-client rate limits would throttle the suite. Tests of
    // the limits themselves start their apps with their own low values.
    ...UNTHROTTLED,
    NODE_ENV: 'test',
  };
  const runFiles = (list, { concurrency, timeoutMs }) => {
    const runner = spawn(
      process.execPath,
      ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, ...list],
      { cwd: ROOT, stdio: 'inherit', env },
    );
    return new Promise((resolve) => runner.once('exit', (code) => resolve(code ?? 1)));
  };

  exitCode = 0;
  if (otherFiles.length > 0) {
    log(`running ${otherFiles.length} test files…`);
    exitCode = await runFiles(otherFiles, { concurrency: 2, timeoutMs: 240_000 });
  }
  // A whole control plane and a dozen processes for minutes (each file counts against the
  // runner's timeout): alone, after the others, with a limit to match.
  if (clusterFiles.length > 0) {
    log('running the local-cluster e2e on its own…');
    const code = await runFiles(clusterFiles, { concurrency: 1, timeoutMs: 20 * 60_000 });
    exitCode = exitCode || code;
  }
} catch (error) {
  console.error(`[kubescaler] test run failed: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await stack.stopAll();
}
log(`test run ${exitCode === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(exitCode);
