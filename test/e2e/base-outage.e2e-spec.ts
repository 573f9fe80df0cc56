import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, eventually, request, startApp, TcpProxy, testInfra, uniqueKeyspace } from '@app/testing';

/** The contract: a Cassandra outage is a 503 within 2 s — never a hang, never a 404. */
const OUTAGE_ANSWER_MS = 2000;

describe('base while Cassandra is unreachable', () => {
  const { cassandraContactPoint } = testInfra();
  let proxy: TcpProxy;
  let base: AppProcess;
  let userId: string;

  before(async () => {
    proxy = await TcpProxy.forAddress(cassandraContactPoint, 9042).start();
    base = await startApp('base', {
      CASSANDRA_CONTACT_POINTS: proxy.address,
      CASSANDRA_KEYSPACE: uniqueKeyspace('outage'),
    });
    userId = (await request(base.url, 'POST', '/users', { body: { name: 'before the outage' } })).body.id;
  });

  after(async () => {
    await base?.stop();
    await proxy?.stop();
  });

  const assertOutage = async (method: string, path: string, body?: unknown) => {
    const res = await request(base.url, method, path, { body });
    assert.equal(res.status, 503, `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 'DEPENDENCY_UNAVAILABLE');
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok(res.elapsedMs < OUTAGE_ANSWER_MS, `${method} ${path} answered in ${res.elapsedMs.toFixed(0)} ms`);
  };

  const waitForRecovery = async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await request(base.url, 'GET', `/users/${userId}`);
      if (res.status === 200) return;
      if (Date.now() > deadline) assert.fail(`base did not recover: ${res.status} ${JSON.stringify(res.body)}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  };

  it('answers 503 within 2 s when Cassandra refuses connections, and is not ready', async () => {
    await proxy.refuse();
    await assertOutage('GET', `/users/${userId}`);
    await assertOutage('GET', `/users/${randomUUID()}`);
    await assertOutage('POST', '/users', { name: 'during' });
    await assertOutage('GET', `/users/${userId}/profiles`);
    await assertOutage('GET', '/profiles');
    const ready = await request(base.url, 'GET', '/health/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.details.checks.cassandra, 'down');
    assert.equal((await request(base.url, 'GET', '/health/live')).status, 200);
  });

  it('recovers by itself when Cassandra is back', async () => {
    await proxy.restore();
    await waitForRecovery();
    // The readiness check is its own query with a 1 s limit: it may trail the first answered
    // request by a moment while the driver's pool reconnects, but it comes back by itself.
    await eventually(
      async () => {
        const ready = await request(base.url, 'GET', '/health/ready');
        assert.equal(ready.status, 200, JSON.stringify(ready.body));
      },
      10_000,
      200,
    );
  });

  it('answers 503 within 2 s when Cassandra accepts but never answers', async () => {
    proxy.blackhole();
    await assertOutage('GET', `/users/${userId}`);
    await assertOutage('PUT', `/users/${userId}`, { name: 'renamed' });
    await proxy.restore();
    await waitForRecovery();
  });
});
