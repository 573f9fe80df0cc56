// `npm start`: installs what is missing, builds, starts Cassandra and Redis (unless
// CASSANDRA_CONTACT_POINTS / REDIS_URL name existing ones), then base, main and stream, and
// prints their URLs. Ctrl-C stops everything it started.
import { randomBytes } from 'node:crypto';
import { acquireRunLock } from './infra/run-lock.mjs';
import { startAppProcess } from './lib/apps.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { Stack } from './lib/stack.mjs';

const stack = new Stack();
let stopping = false;
stack.stopOnSignals((signal) => {
  stopping = true;
  log(`${signal}: stopping everything…`);
});

const ports = {
  base: Number(process.env.BASE_PORT ?? 3001),
  main: Number(process.env.MAIN_PORT ?? 3000),
  stream: Number(process.env.STREAM_PORT ?? 3002),
};

try {
  const started = Date.now();
  stack.push('run lock', acquireRunLock(ROOT, 'dev'));
  await ensureDependencies();
  await build();
  const infraEnv = await provideInfra(stack, {
    name: 'dev',
    cqlPort: Number(process.env.CASSANDRA_PORT ?? 9042),
    storagePort: Number(process.env.CASSANDRA_STORAGE_PORT ?? 7000),
    redisPort: Number(process.env.REDIS_PORT ?? 6379),
  });
  const adminToken = process.env.ADMIN_TOKEN || randomBytes(24).toString('base64url');
  const env = {
    ...infraEnv,
    ADMIN_TOKEN: adminToken,
    BASE_URL: process.env.BASE_URL ?? `http://127.0.0.1:${ports.base}`,
  };
  const onExit = (label) => (code, signal) => {
    if (stopping) return;
    log(`${label} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping everything`);
    void stack.stopAll().then(() => process.exit(1));
  };
  const apps = {};
  for (const app of ['base', 'main', 'stream']) {
    const handle = await startAppProcess({ app, port: ports[app], env, onExit: onExit(app) });
    stack.push(app, handle.stop);
    apps[app] = handle.url;
  }
  log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
  base    ${apps.base}     (internal API)
  main    ${apps.main}     (REST)
  stream  ${apps.stream}     (SSE)
  admin token: ${adminToken}${process.env.ADMIN_TOKEN ? ' (from ADMIN_TOKEN)' : ' (generated for this run)'}

  Ctrl-C stops everything.
`);
} catch (error) {
  console.error(`[kubescaler] start failed: ${error.message}`);
  await stack.stopAll();
  process.exit(1);
}
