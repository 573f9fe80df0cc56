import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchNodeApp, type NodeAppProcess } from '@app/infra/node-app.mjs';

/** Repository root, found from this file's compiled location (libs/testing/dist). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export type AppProcess = NodeAppProcess;
export { launchNodeApp };

/**
 * Starts `node apps/<app>/dist/main.js` as a real process on a free port and waits until
 * `/health/live` answers. Fails with the process output if it exits or does not come up.
 */
export async function startApp(
  app: 'base' | 'main' | 'stream',
  env: Record<string, string | undefined>,
  // base creates a new keyspace's tables at start; Cassandra applies schema changes one at a
  // time, so with several suites starting at once on a busy machine that can take a while.
  timeoutMs = app === 'base' ? 60_000 : 20_000,
): Promise<AppProcess> {
  return launchNodeApp({
    script: resolve(REPO_ROOT, `apps/${app}/dist/main.js`),
    label: app,
    port: env.PORT ? Number(env.PORT) : await freePort(),
    cwd: REPO_ROOT,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    timeoutMs,
  });
}
