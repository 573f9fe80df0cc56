import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redisServerKey } from './load-config.js';

const SECRET = 'a-development-secret-of-32-bytes!';
const AUTH = { AUTH_JWT_SECRET: SECRET };

const problemsOf = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
};

describe(loadConfig.name, () => {
  it('applies the documented defaults and the per-app port', () => {
    const sut = loadConfig('stream', { POD_NAME: 'pod-a', ...AUTH });
    assert.equal(sut.http.port, 3002);
    assert.equal(sut.podName, 'pod-a');
    assert.equal(sut.lock.ttlMs, 15_000);
    assert.equal(sut.lock.renewMs, 5000);
    assert.equal(sut.stream.eventsPerSecond, 4);
    assert.equal(sut.stream.eventBytes, 65_536);
    assert.equal(sut.stream.maxBufferBytes, 1_048_576);
    assert.equal(sut.stream.maxConnections, 1000);
    assert.equal(sut.stream.maxLagMs, 1000);
    assert.equal(sut.stream.heapGrowingPercent, 20);
    assert.equal(sut.stream.notsentLowatBytes, 131_072);
    assert.deepEqual(sut.redis.lockUrls, ['redis://127.0.0.1:6379']);
    assert.equal(sut.adminToken, undefined);
    assert.equal(loadConfig('base', {}).http.port, 3001);
    assert.equal(loadConfig('main', AUTH).http.port, 3000);
    assert.deepEqual(sut.auth, {
      mode: 'jwt',
      jwtSecret: SECRET,
      jwksUrl: undefined,
      issuer: undefined,
      audience: undefined,
      userClaim: 'sub',
      devLogin: false,
    });
  });

  it('parses lists, numbers and trims the base URL', () => {
    const sut = loadConfig('main', {
      ...AUTH,
      PORT: '4000',
      BASE_URL: 'http://base:3001/',
      REDIS_LOCK_URLS: 'redis://r1:6379,redis://r2:6379,redis://r3:6379',
    });
    assert.equal(sut.http.port, 4000);
    assert.equal(sut.baseUrl, 'http://base:3001');
    assert.equal(sut.redis.lockUrls.length, 3);
    assert.deepEqual(loadConfig('base', { CASSANDRA_CONTACT_POINTS: 'c1:9042, c2' }).cassandra.contactPoints, [
      'c1:9042',
      'c2',
    ]);
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
          ...AUTH,
          PORT: 'eighty',
          REDIS_URL: 'http://nope',
          LOCK_TTL_MS: '-1',
          STREAM_SOURCES: 'kafka',
          ADMIN_TOKEN: 'short',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const names = error.problems.map((p) => p.split(':')[0]);
        assert.deepEqual([...names].sort(), ['ADMIN_TOKEN', 'LOCK_TTL_MS', 'PORT', 'REDIS_URL', 'STREAM_SOURCES']);
        assert.match(error.message, /PORT: .*\(got "eighty"\)/);
        return true;
      },
    );
  });

  it('refuses a renewal interval longer than half the lock lease', () => {
    assert.throws(
      () => loadConfig('stream', { ...AUTH, LOCK_TTL_MS: '10000', LOCK_RENEW_MS: '6000' }),
      /LOCK_RENEW_MS/,
    );
  });

  it("refuses to start main or stream with no way to verify users' tokens, unless AUTH_MODE=open", () => {
    for (const app of ['main', 'stream'] as const) {
      const [problem, ...more] = problemsOf(() => loadConfig(app, {}));
      assert.match(problem!, /^AUTH_JWT_SECRET: set AUTH_JWT_SECRET and\/or AUTH_JWKS_URL .* or AUTH_MODE=open/);
      assert.deepEqual(more, []);
      assert.equal(loadConfig(app, { AUTH_MODE: 'open' }).auth.mode, 'open');
      assert.equal(loadConfig(app, { AUTH_JWKS_URL: 'https://idp.example/jwks.json' }).auth.jwtSecret, undefined);
    }
    // base takes no users' tokens: it has no auth settings at all.
    assert.equal('auth' in loadConfig('base', {}), false);
  });

  it('refuses a secret shorter than 32 bytes without echoing it', () => {
    const problems = problemsOf(() => loadConfig('stream', { AUTH_JWT_SECRET: 'too-short-a-secret' }));
    assert.deepEqual(problems, ['AUTH_JWT_SECRET: must be at least 32 bytes']);
    // 32 bytes of UTF-8 is enough whatever the character count.
    assert.ok(loadConfig('stream', { AUTH_JWT_SECRET: 'é'.repeat(16) }).auth.jwtSecret);
  });

  it('refuses development sign-in without a secret to sign sessions with', () => {
    const problems = problemsOf(() =>
      loadConfig('main', { AUTH_JWKS_URL: 'https://idp.example/jwks.json', AUTH_DEV_LOGIN: 'true' }),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^AUTH_DEV_LOGIN: .*AUTH_JWT_SECRET/);
    assert.equal(loadConfig('main', { ...AUTH, AUTH_DEV_LOGIN: 'true' }).auth.devLogin, true);
  });

  it('parses the identity provider settings and names bad ones with the rest', () => {
    const sut = loadConfig('stream', {
      AUTH_JWKS_URL: 'https://idp.example/realms/k/protocol/openid-connect/certs',
      AUTH_ISSUER: 'https://idp.example/realms/k',
      AUTH_AUDIENCE: 'kubescaler, account',
    });
    assert.equal(sut.auth.issuer, 'https://idp.example/realms/k');
    assert.deepEqual(sut.auth.audience, ['kubescaler', 'account']);
    assert.equal(
      loadConfig('stream', { ...AUTH, AUTH_USER_CLAIM: ' preferred_username ' }).auth.userClaim,
      'preferred_username',
    );
    const [notAnId] = problemsOf(() => loadConfig('stream', { ...AUTH, AUTH_USER_CLAIM: 'exp' }));
    assert.match(notAnId!, /^AUTH_USER_CLAIM: must name the claim that holds the user id/);
    const names = problemsOf(() =>
      loadConfig('stream', { PORT: 'x', AUTH_JWKS_URL: 'ftp://idp', AUTH_DEV_LOGIN: 'yes', AUTH_MODE: 'none' }),
    ).map((p) => p.split(':')[0]);
    assert.deepEqual(names.sort(), ['AUTH_DEV_LOGIN', 'AUTH_JWKS_URL', 'AUTH_MODE', 'PORT']);
  });

  it('reads the freshness bounds and lets TCP_NOTSENT_LOWAT be turned off with 0', () => {
    const sut = loadConfig('stream', { ...AUTH, STREAM_MAX_LAG_MS: '250', STREAM_SOCKET_NOTSENT_LOWAT_BYTES: '0' });
    assert.equal(sut.stream.maxLagMs, 250);
    assert.equal(sut.stream.notsentLowatBytes, 0);
    assert.throws(
      () => loadConfig('stream', { ...AUTH, STREAM_MAX_LAG_MS: '0', STREAM_SOCKET_NOTSENT_LOWAT_BYTES: '-1' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.startsWith('STREAM_MAX_LAG_MS')) &&
        error.problems.some((p) => p.startsWith('STREAM_SOCKET_NOTSENT_LOWAT_BYTES')),
    );
  });

  it('reads the sources, the per-user cap, the history bounds and the publisher tokens', () => {
    const defaults = loadConfig('stream', AUTH);
    assert.deepEqual(defaults.stream.sources, ['generator', 'published']);
    assert.equal(defaults.stream.maxPerUser, 10);
    assert.deepEqual(defaults.history, { maxEvents: 1000, maxAgeMs: 600_000 });
    assert.deepEqual(loadConfig('main', AUTH).publish, { maxDataBytes: 65_536, tokens: [] });
    const history = { STREAM_HISTORY_MAX_EVENTS: '50', STREAM_HISTORY_MAX_AGE_MS: '5000' };
    const stream = loadConfig('stream', { ...AUTH, ...history, STREAM_SOURCES: 'published', STREAM_MAX_PER_USER: '3' });
    assert.deepEqual(stream.stream.sources, ['published']);
    assert.equal(stream.stream.maxPerUser, 3);
    assert.deepEqual(stream.history, { maxEvents: 50, maxAgeMs: 5000 });
    const main = loadConfig('main', {
      ...AUTH,
      ...history,
      PUBLISH_MAX_DATA_BYTES: '2048',
      PUBLISH_TOKENS: 'publisher-one-0123456789, publisher-two-0123456789',
    });
    assert.deepEqual(main.history, { maxEvents: 50, maxAgeMs: 5000 });
    assert.deepEqual(main.publish, {
      maxDataBytes: 2048,
      tokens: ['publisher-one-0123456789', 'publisher-two-0123456789'],
    });
  });

  it("validates only the variables an app uses: another app's bad value neither stops it nor shows in it", () => {
    const cassandra = { CASSANDRA_KEYSPACE: 'Bad-Name' };
    const clients = { BASE_URL: 'ftp://nope', LOCK_TTL_MS: '-1', AUTH_JWT_SECRET: 'short' };
    const stream = { STREAM_SOURCES: 'kafka', STREAM_MAX_PER_USER: '0' };
    const publish = { PUBLISH_TOKENS: 'short' };

    const base = loadConfig('base', { ...clients, ...stream, ...publish });
    assert.deepEqual(Object.keys(base).sort(), [
      'adminToken',
      'app',
      'cassandra',
      'http',
      'internalToken',
      'logFormat',
      'logLevel',
      'podName',
      'warnings',
    ]);
    assert.ok(!('stream' in loadConfig('main', { ...AUTH, ...cassandra, ...stream })));
    // Each app's own rate limits: main's sign-ins and look-ups, stream's opens.
    assert.deepEqual(Object.keys(loadConfig('main', AUTH).rateLimits).sort(), ['loginPerMinute', 'signInPerMinute']);
    assert.deepEqual(Object.keys(loadConfig('stream', AUTH).rateLimits), ['streamOpensPerMinute']);
    assert.equal(loadConfig('main', { ...AUTH, RATE_LIMIT_STREAM_OPENS_PER_MINUTE: '-1' }).app, 'main');
    assert.ok(!('publish' in loadConfig('stream', { ...AUTH, ...cassandra, ...publish })));

    assert.deepEqual(
      problemsOf(() => loadConfig('base', cassandra)).map((p) => p.split(':')[0]),
      ['CASSANDRA_KEYSPACE'],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig('main', { ...AUTH, ...publish })).map((p) => p.split(':')[0]),
      ['PUBLISH_TOKENS'],
    );
  });

  it('refuses unknown or repeated sources, a cap of 0 and short publisher tokens, never echoing a token', () => {
    const streamProblems = problemsOf(() =>
      loadConfig('stream', { ...AUTH, STREAM_SOURCES: 'generator,kafka', STREAM_MAX_PER_USER: '0' }),
    );
    assert.deepEqual(streamProblems.map((p) => p.split(':')[0]).sort(), ['STREAM_MAX_PER_USER', 'STREAM_SOURCES']);
    const problems = problemsOf(() => loadConfig('main', { ...AUTH, PUBLISH_TOKENS: 'short-secret' }));
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['PUBLISH_TOKENS'],
    );
    assert.ok(!problems.join('\n').includes('short-secret'), 'the token is not in the message');
    assert.deepEqual(
      problemsOf(() => loadConfig('stream', { ...AUTH, STREAM_SOURCES: 'published,published' })).map(
        (p) => p.split(':')[0],
      ),
      ['STREAM_SOURCES'],
    );
  });

  it('refuses the same lock server twice, after normalising host and port, naming both spellings', () => {
    for (const urls of [
      'redis://r1:6379,redis://r1:6379',
      'redis://R1:6379,redis://r1',
      'redis://localhost:7000,redis://127.0.0.1:7000/2',
      'redis://a:1,rediss://user:secret@a:1/3,redis://b:1',
    ]) {
      assert.throws(
        () => loadConfig('stream', { ...AUTH, REDIS_LOCK_URLS: urls }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, urls);
          assert.equal(error.problems.length, 1, error.message);
          assert.match(error.problems[0]!, /^REDIS_LOCK_URLS: names the server \S+ twice \(.+ and .+\)/);
          return true;
        },
      );
    }
    assert.equal(
      loadConfig('stream', { ...AUTH, REDIS_LOCK_URLS: 'redis://a:1,redis://a:2,redis://b:1' }).redis.lockUrls.length,
      3,
    );
  });

  it('warns about an even number of lock servers, and only then', () => {
    assert.deepEqual(loadConfig('stream', AUTH).warnings, []);
    assert.deepEqual(loadConfig('stream', { ...AUTH, REDIS_LOCK_URLS: 'redis://a,redis://b,redis://c' }).warnings, []);
    const [warning, ...more] = loadConfig('stream', { ...AUTH, REDIS_LOCK_URLS: 'redis://a,redis://b' }).warnings;
    assert.deepEqual(more, []);
    assert.match(warning!, /REDIS_LOCK_URLS names 2 lock servers: an even count tolerates no more failures than 1/);
  });

  it('keeps REDIS_URL as the one lock server when REDIS_LOCK_URLS is unset', () => {
    const sut = loadConfig('main', { ...AUTH, REDIS_URL: 'redis://only:6380' });
    assert.deepEqual(sut.redis.lockUrls, ['redis://only:6380']);
    assert.equal(sut.redis.url, 'redis://only:6380');
  });
});

describe(redisServerKey.name, () => {
  const sut = redisServerKey;

  it('names the server a URL reaches: host lower-cased, loopback as 127.0.0.1, port defaulted', () => {
    assert.equal(sut('redis://Redis-A.example'), 'redis-a.example:6379');
    assert.equal(sut('rediss://u:p@localhost:7000/3'), '127.0.0.1:7000');
    assert.equal(sut('redis://[::1]:7000'), '127.0.0.1:7000');
  });
});
