import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load-config.js';

describe(loadConfig.name, () => {
  it('applies the documented defaults and the per-app port', () => {
    const sut = loadConfig('stream', { POD_NAME: 'pod-a' });
    assert.equal(sut.http.port, 3002);
    assert.equal(sut.podName, 'pod-a');
    assert.equal(sut.lock.ttlMs, 15_000);
    assert.equal(sut.lock.renewMs, 5000);
    assert.equal(sut.stream.eventsPerSecond, 4);
    assert.equal(sut.stream.eventBytes, 65_536);
    assert.equal(sut.stream.maxBufferBytes, 1_048_576);
    assert.equal(sut.stream.maxConnections, 1000);
    assert.equal(sut.stream.maxLagMs, 1000);
    assert.equal(sut.stream.notsentLowatBytes, 131_072);
    assert.deepEqual(sut.redis.lockUrls, ['redis://127.0.0.1:6379']);
    assert.equal(sut.adminToken, undefined);
    assert.equal(loadConfig('base', {}).http.port, 3001);
    assert.equal(loadConfig('main', {}).http.port, 3000);
  });

  it('parses lists, numbers and trims the base URL', () => {
    const sut = loadConfig('main', {
      PORT: '4000',
      BASE_URL: 'http://base:3001/',
      CASSANDRA_CONTACT_POINTS: 'c1:9042, c2',
      REDIS_LOCK_URLS: 'redis://r1:6379,redis://r2:6379,redis://r3:6379',
    });
    assert.equal(sut.http.port, 4000);
    assert.equal(sut.baseUrl, 'http://base:3001');
    assert.deepEqual(sut.cassandra.contactPoints, ['c1:9042', 'c2']);
    assert.equal(sut.redis.lockUrls.length, 3);
  });

  it('returns a frozen object', () => {
    const sut = loadConfig('base', {});
    assert.ok(Object.isFrozen(sut));
    assert.ok(Object.isFrozen(sut.cassandra));
    assert.ok(Object.isFrozen(sut.cassandra.contactPoints));
  });

  it('treats empty variables as unset', () => {
    assert.equal(loadConfig('base', { PORT: '', ADMIN_TOKEN: '' }).http.port, 3001);
  });

  it('names every bad variable in one error', () => {
    assert.throws(
      () =>
        loadConfig('stream', {
          PORT: 'eighty',
          REDIS_URL: 'http://nope',
          LOCK_TTL_MS: '-1',
          CASSANDRA_KEYSPACE: 'Bad-Name',
          ADMIN_TOKEN: 'short',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const names = error.problems.map((p) => p.split(':')[0]);
        assert.deepEqual([...names].sort(), ['ADMIN_TOKEN', 'CASSANDRA_KEYSPACE', 'LOCK_TTL_MS', 'PORT', 'REDIS_URL']);
        assert.match(error.message, /PORT: .*\(got "eighty"\)/);
        return true;
      },
    );
  });

  it('refuses a renewal interval longer than half the lock lease', () => {
    assert.throws(() => loadConfig('stream', { LOCK_TTL_MS: '10000', LOCK_RENEW_MS: '6000' }), /LOCK_RENEW_MS/);
  });

  it('reads the freshness bounds and lets TCP_NOTSENT_LOWAT be turned off with 0', () => {
    const sut = loadConfig('stream', { STREAM_MAX_LAG_MS: '250', STREAM_SOCKET_NOTSENT_LOWAT_BYTES: '0' });
    assert.equal(sut.stream.maxLagMs, 250);
    assert.equal(sut.stream.notsentLowatBytes, 0);
    assert.throws(
      () => loadConfig('stream', { STREAM_MAX_LAG_MS: '0', STREAM_SOCKET_NOTSENT_LOWAT_BYTES: '-1' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.startsWith('STREAM_MAX_LAG_MS')) &&
        error.problems.some((p) => p.startsWith('STREAM_SOCKET_NOTSENT_LOWAT_BYTES')),
    );
  });
});
