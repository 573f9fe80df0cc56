import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AppProcess, freePort, REPO_ROOT, startApp, uniqueKeyspace } from '@app/testing';

/** Pairs in a system's base are made as in any stream suite's. */
export { createPairs } from './stream-stack.js';

export const ADMIN_TOKEN = 'system-admin-token-0123456789';

/** The nginx gateway (scripts/lib/gateway.mjs) as a test sees it. */
export interface Gateway {
  url: string;
  /** nginx's master process. */
  pid: number;
  /** Its working directory: nginx.conf, access.log, error.log. */
  dir: string;
  accessLog: string;
  errorLog: string;
  close(): Promise<void>;
}

export interface System {
  base: AppProcess;
  main: AppProcess;
  streams: AppProcess[];
  gateway: Gateway;
  stop(): Promise<void>;
}

let gateways = 0;

/**
 * The gateway as `npm start` runs it — Debian's nginx with the generated configuration — on a
 * free port in front of `mainUrl` and `streamUrls`; its working directory goes away on close.
 */
export async function startGateway(mainUrl: string, streamUrls: string[]): Promise<Gateway> {
  const module = await import(pathToFileURL(join(REPO_ROOT, 'scripts/lib/gateway.mjs')).href);
  return module.startGateway({
    root: REPO_ROOT,
    name: `test-${process.pid}-${++gateways}`,
    host: '127.0.0.1',
    port: await freePort(),
    mainUrls: [mainUrl],
    streamUrls,
    removeOnClose: true,
  });
}

/**
 * base, main, `streams` stream replicas (pods `stream-1`…) and the nginx gateway, as `npm start`
 * runs them (development sign-in on, the test run's `AUTH_JWT_SECRET`), on a keyspace of their own.
 */
export async function startSystem(options: { streams: number; env?: Record<string, string> }): Promise<System> {
  const env = { ADMIN_TOKEN, AUTH_DEV_LOGIN: 'true', CASSANDRA_KEYSPACE: uniqueKeyspace('system'), ...options.env };
  const base = await startApp('base', { ...env, POD_NAME: 'base' });
  const shared = { ...env, BASE_URL: base.url };
  const started = await Promise.allSettled([
    startApp('main', { ...shared, POD_NAME: 'main' }),
    ...Array.from({ length: options.streams }, (_, i) =>
      startApp('stream', { ...shared, POD_NAME: `stream-${i + 1}` }),
    ),
  ]);
  const apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopApps = async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await base.stop();
  };
  // A partial start-up stops what did start, so a failed `before` leaves no process keeping the file alive.
  const failed = started.find((result) => result.status === 'rejected');
  let gateway: Gateway;
  try {
    if (failed) throw failed.reason;
    gateway = await startGateway(
      apps[0]!.url,
      apps.slice(1).map((stream) => stream.url),
    );
  } catch (error) {
    await stopApps();
    throw error;
  }
  const [main, ...streams] = apps as [AppProcess, ...AppProcess[]];
  return {
    base,
    main,
    streams,
    gateway,
    stop: async () => {
      await gateway.close();
      await stopApps();
    },
  };
}
