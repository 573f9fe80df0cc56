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

/** The base processes this test process started: `request` sends them the service credential. */
const SERVICE_URLS = new Set<string>();
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
  const started = await launchNodeApp({
    script: resolve(REPO_ROOT, `apps/${app}/dist/main.js`),
    label: app,
    port: env.PORT ? Number(env.PORT) : await freePort(),
    cwd: REPO_ROOT,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    timeoutMs,
  });
  if (app === 'base') SERVICE_URLS.add(started.url);
  return started;
}

/** Marks `url` as a base of this test run started by other means (a cluster's Service): `request` sends it the service credential. */
export function addServiceUrl(url: string): void {
  SERVICE_URLS.add(url.replace(/\/+$/, ''));
}

/** Whether `url` is a base this process started (its requests need the internal service credential). */
export function isServiceUrl(url: string): boolean {
  return SERVICE_URLS.has(url.replace(/\/+$/, ''));
}

/** The test run's internal service credential (`npm test` generates one and hands it to every app). */
export function testInternalToken(): string | undefined {
  return process.env.INTERNAL_TOKEN || undefined;
}
