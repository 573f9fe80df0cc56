import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AppProcess, freePort, REPO_ROOT, request, startApp, uniqueKeyspace } from '@app/testing';

export const ADMIN_TOKEN = 'system-admin-token-0123456789';

export interface Gateway {
  url: string;
  close(): Promise<void>;
}

export interface System {
  base: AppProcess;
  main: AppProcess;
  streams: AppProcess[];
  gateway: Gateway;
  stop(): Promise<void>;
}

/** The local gateway (scripts/gateway.mjs), in this process, on a free port. */
export async function startGateway(mainUrl: string, streamUrls: string[]): Promise<Gateway> {
  const module = await import(pathToFileURL(join(REPO_ROOT, 'scripts/gateway.mjs')).href);
  return module.startGateway({ port: await freePort(), host: '127.0.0.1', mainUrl, streamUrls });
}

/**
 * base, main, `streams` stream replicas (pods `stream-1`…) and the gateway, as `npm start` runs
 * them (development sign-in on, the test run's `AUTH_JWT_SECRET`), on a keyspace of their own.
 */
export async function startSystem(options: { streams: number; env?: Record<string, string> }): Promise<System> {
  const env = { ADMIN_TOKEN, AUTH_DEV_LOGIN: 'true', CASSANDRA_KEYSPACE: uniqueKeyspace('system'), ...options.env };
  const base = await startApp('base', { ...env, POD_NAME: 'base' });
  const shared = { ...env, BASE_URL: base.url };
  const [main, ...streams] = await Promise.all([
    startApp('main', { ...shared, POD_NAME: 'main' }),
    ...Array.from({ length: options.streams }, (_, i) =>
      startApp('stream', { ...shared, POD_NAME: `stream-${i + 1}` }),
    ),
  ]);
  const gateway = await startGateway(
    main.url,
    streams.map((stream) => stream.url),
  );
  return {
    base,
    main,
    streams,
    gateway,
    stop: async () => {
      await gateway.close();
      await Promise.all([main, ...streams].map((app) => app.stop()));
      await base.stop();
    },
  };
}

/** Creates `count` users each bound to one new profile; returns the pairs. */
export async function createPairs(
  baseUrl: string,
  count: number,
): Promise<Array<{ userId: string; profileId: string }>> {
  const pairs = [];
  for (let i = 0; i < count; i++) {
    const user = await request(baseUrl, 'POST', '/users', { body: { name: `user ${i}` } });
    const profile = await request(baseUrl, 'POST', '/profiles', {
      body: { name: `profile ${i}`, userIds: [user.body.id] },
    });
    pairs.push({ userId: user.body.id as string, profileId: profile.body.id as string });
  }
  return pairs;
}
