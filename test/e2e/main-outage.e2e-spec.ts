import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, request, startApp, TcpProxy, testInfra, uniqueKeyspace } from '@app/testing';
import { createPairs } from '../support/system.js';

/** A dependency outage is a 503 within 2 s — never a hang, never a 404. */
const OUTAGE_ANSWER_MS = 2000;
/** The user and profile lists are for the admin (this main runs without development sign-in). */
const ADMIN_TOKEN = 'main-outage-admin-token-0123456789';

describe('main while base or Redis is unreachable', () => {
  const { redisUrl } = testInfra();
  let base: AppProcess;
  let main: AppProcess;
  let baseProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let userId: string;

  before(async () => {
    base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('mainoutage') });
    baseProxy = await TcpProxy.forAddress(new URL(base.url).host, 0).start();
    redisProxy = await TcpProxy.forAddress(new URL(redisUrl).host, 6379).start();
    main = await startApp('main', {
      ADMIN_TOKEN,
      BASE_URL: `http://${baseProxy.address}`,
      REDIS_URL: `redis://${redisProxy.address}`,
      REDIS_LOCK_URLS: '',
    });
    userId = (await createPairs(base.url, 1))[0]!.userId;
  });

  after(async () => {
    await main?.stop();
    await base?.stop();
    await baseProxy?.stop();
    await redisProxy?.stop();
  });

  const assertOutage = async (path: string, dependency: string) => {
    const headers: Record<string, string> = path.startsWith('/main/login/')
      ? {}
      : { authorization: `Bearer ${ADMIN_TOKEN}` };
    const res = await request(main.url, 'GET', path, { headers });
    assert.equal(res.status, 503, `${path} → ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 'DEPENDENCY_UNAVAILABLE');
    assert.equal(res.body.details.dependency, dependency);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok(res.elapsedMs < OUTAGE_ANSWER_MS, `${path} answered in ${res.elapsedMs.toFixed(0)} ms`);
  };

  it('answers /main/login while both are up', async () => {
    const res = await request(main.url, 'GET', `/main/login/${userId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.activeProfiles, []);
  });

  it('answers 503 within 2 s when base refuses connections or hangs', async () => {
    await baseProxy.refuse();
    await assertOutage(`/main/login/${userId}`, 'base');
    await assertOutage('/main/users', 'base');
    await baseProxy.restore();
    baseProxy.blackhole();
    await assertOutage(`/main/login/${userId}`, 'base');
    await assertOutage('/main/suggested', 'base');
    assert.equal((await request(main.url, 'GET', '/health/ready')).status, 503);
    await baseProxy.restore();
    assert.equal((await request(main.url, 'GET', `/main/login/${userId}`)).status, 200);
  });

  it('answers 503 within 2 s when Redis refuses connections or hangs', async () => {
    await redisProxy.refuse();
    await assertOutage(`/main/login/${userId}`, 'redis');
    await redisProxy.restore();
    redisProxy.blackhole();
    await assertOutage(`/main/login/${userId}`, 'redis');
    await redisProxy.restore();
    const deadline = Date.now() + 10_000;
    while ((await request(main.url, 'GET', `/main/login/${userId}`)).status !== 200) {
      assert.ok(Date.now() < deadline, 'main recovers once Redis is back');
      await new Promise((done) => setTimeout(done, 100));
    }
  });
});
