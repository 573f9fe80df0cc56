import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DynamicModule } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { type ClientAppConfig, ConfigModule } from '@app/config';
import { HEALTH_INDICATORS, type HealthIndicator, HealthModule } from '@app/health';
import { eventually, freePort, RedisServer, testConfig, testInfra } from '@app/testing';
import { connectedClient, freshPair, lostAt, rejectsWith } from './integration-support.js';
import { LaunchedRecords } from './launched-records.js';
import { LockModule, REDIS_HEALTH } from './lock.module.js';
import { PairLock } from './pair-lock.js';
import { closeRedis } from './redis-client.js';
import { RedisHealthIndicator } from './redis.health.js';
import { REDIS_CLIENT } from './tokens.js';

describe(LockModule.name, () => {
  const { redisUrl } = testInfra();
  let observer: Redis;

  before(async () => {
    observer = await connectedClient(redisUrl, 'module-observer');
  });

  after(async () => {
    await closeRedis(observer);
  });

  /** A stream app's config for a pod of its own, so its connections can be told apart. */
  function config(overrides: Record<string, string> = {}) {
    return testConfig('stream', {
      POD_NAME: `lock-module-${randomUUID().slice(0, 8)}`,
      REDIS_URL: redisUrl,
      REDIS_LOCK_URLS: redisUrl,
      LOCK_TTL_MS: '1000',
      LOCK_RENEW_MS: '200',
      ...overrides,
    });
  }

  /** The lock module (and `imports`) over `appConfig`, compiled and initialised. */
  async function startModule(appConfig: ClientAppConfig, ...imports: DynamicModule[]): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(appConfig), LockModule, ...imports],
    }).compile();
    await moduleRef.init();
    return moduleRef;
  }

  /** Connections the server sees from `pod`, by client name. */
  async function connectionsOf(pod: string): Promise<string[]> {
    const list = await observer.client('LIST');
    return [...String(list).matchAll(/ name=(\S+)/g)].map((m) => m[1]!).filter((name) => name.includes(`:${pod}:`));
  }

  it('provides a working PairLock, LaunchedRecords and Redis health indicator from the app config', async () => {
    const appConfig = config();
    const moduleRef = await startModule(appConfig);
    try {
      const sut = moduleRef.get(PairLock);
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: appConfig.podName });
      const records = await moduleRef.get(LaunchedRecords).readMany(userId, [profileId]);
      assert.equal(records.get(profileId)?.pod, appConfig.podName);
      const health = moduleRef.get(RedisHealthIndicator);
      assert.equal(health.name, 'redis');
      await health.check();
      assert.equal(await moduleRef.get<Redis>(REDIS_CLIENT).ping(), 'PONG');
      await held.release();
    } finally {
      await moduleRef.close();
    }
  });

  it('opens one connection per distinct URL, also when imported again for the health module', async () => {
    const appConfig = config();
    const moduleRef = await startModule(appConfig, HealthModule.forRoot(REDIS_HEALTH));
    try {
      assert.deepEqual(await connectionsOf(appConfig.podName), [`kubescaler:stream:${appConfig.podName}:main`]);
      const indicators = moduleRef.get<HealthIndicator[]>(HEALTH_INDICATORS, { strict: false });
      assert.deepEqual(
        indicators.map((indicator) => indicator.name),
        ['redis'],
      );
      await indicators[0]!.check();
    } finally {
      await moduleRef.close();
    }
  });

  it('revokes the locks still held and quits every client on shutdown', async () => {
    const servers = await Promise.all([RedisServer.start(), RedisServer.start()]);
    const lockUrls = [redisUrl, ...servers.map((server) => server.url)];
    const appConfig = config({ REDIS_LOCK_URLS: lockUrls.join(',') });
    const moduleRef = await startModule(appConfig);
    try {
      // Boot waits for a majority of lock servers only: the first one's connection may come a moment later.
      await eventually(
        async () =>
          assert.equal((await connectionsOf(appConfig.podName)).length, 1, 'REDIS_URL is also the first lock server'),
        2000,
      );
      const sut = moduleRef.get(PairLock);
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: appConfig.podName });
      const lost = lostAt(held);
      await moduleRef.close();
      assert.match((await lost).reason, /shutting down/);
      assert.deepEqual(await connectionsOf(appConfig.podName), []);
      for (const server of servers) {
        const client = await connectedClient(server.url);
        const names = String(await client.client('LIST'));
        await closeRedis(client);
        assert.doesNotMatch(names, new RegExp(appConfig.podName));
      }
      await rejectsWith(sut.acquire(userId, profileId, { pod: 'after-shutdown' }), 'DEPENDENCY_UNAVAILABLE');
      assert.equal(await observer.exists(held.resource), 0, 'the lock was freed, not left to expire');
    } finally {
      await Promise.all(servers.map((server) => server.dispose()));
    }
  });

  it('fails boot within about 3 s naming the Redis it cannot reach, leaving no connection open', async (t) => {
    const deadUrl = `redis://127.0.0.1:${await freePort()}`;
    const appConfig = config({ REDIS_LOCK_URLS: `${redisUrl},${deadUrl}` });
    const started = performance.now();
    await assert.rejects(
      Test.createTestingModule({ imports: [ConfigModule.forRoot(appConfig), LockModule] }).compile(),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`Cannot connect to Redis at ${deadUrl.replace(/\./g, '\\.')}: .*ECONNREFUSED`),
        );
        return true;
      },
    );
    const elapsed = performance.now() - started;
    t.diagnostic(`boot failed after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 3500);
    assert.deepEqual(await connectionsOf(appConfig.podName), []);
  });

  it('reports Redis as down quickly once it stops', async () => {
    const server = await RedisServer.start();
    const appConfig = config({ REDIS_URL: server.url, REDIS_LOCK_URLS: server.url });
    const moduleRef = await startModule(appConfig);
    try {
      const sut = moduleRef.get(RedisHealthIndicator);
      await sut.check();
      await server.stop('SIGKILL');
      const started = performance.now();
      await assert.rejects(sut.check());
      assert.ok(performance.now() - started < 600);
    } finally {
      await moduleRef.close();
      await server.dispose();
    }
  });
});
