// `npm run bench -- auth` — figure h: what authorization costs and what an anonymous flood does.
//
// 1. 1,000 anonymous opens of one pair in a row (each a new connection, refused 401) against one
//    stream process, then 32 in flight for a few seconds: refusals per second and latency; then the
//    locks held, the pair's lock keys in Redis, and how fast the pair's own user opens it.
//    Baseline: the cheapest refusal the same process makes (400 for a malformed id, no token read).
// 2. Token verification in this process (`TokenVerifier.verify`): HS256 with the shared secret and
//    ES256 with keys from a local JSON Web Key Set, µs per token, sequentially.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { TokenVerifier } from '@app/auth';
import { closeRedis, connectRedis, createRedisClient, DATASET_KEY } from '@app/lock';
import { mintUserToken, testAuthSecret } from '@app/testing';
import { Histogram, type Percentiles } from '../load/histogram.js';
import { cpuMeter, Figure, log, scale, startServer, startSystem } from '../load/bench-kit.js';
import { SseClient, type SseClientOptions } from '../support/sse-client.js';

const { IN_A_ROW, CONCURRENT_MS, VERIFICATIONS } = scale({
  full: { IN_A_ROW: 1000, CONCURRENT_MS: 5000, VERIFICATIONS: 20_000 },
  smoke: { IN_A_ROW: 100, CONCURRENT_MS: 1000, VERIFICATIONS: 500 },
});
const CONCURRENCY = 32;

interface Refusals {
  seconds: number;
  latency: Percentiles;
  statuses: Record<string, number>;
  perSecond?: number;
  cpuCores?: number;
}

/** One request for `path`; resolves with its status once the answer is complete. */
async function once(url: string, path: string, options: SseClientOptions): Promise<number> {
  const client = await SseClient.open(url, path, options);
  await client.waitForEnd();
  await client.close();
  return client.status;
}

async function inARow(url: string, path: string, options: SseClientOptions, count: number): Promise<Refusals> {
  const latency = new Histogram();
  const statuses: Record<string, number> = {};
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const status = await once(url, path, options);
    latency.record(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return { seconds: (performance.now() - started) / 1000, latency: latency.summary(), statuses };
}

async function concurrently(url: string, path: string, options: SseClientOptions, pid: number): Promise<Refusals> {
  const latency = new Histogram();
  const statuses: Record<string, number> = {};
  const cpu = cpuMeter(pid);
  const started = performance.now();
  const deadline = started + CONCURRENT_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await once(url, path, options);
        latency.record(performance.now() - t0);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { seconds, latency: latency.summary(), statuses, perSecond: total / seconds, cpuCores: cpu.stop() };
}

async function verifyCost(verifier: TokenVerifier, token: string): Promise<number> {
  for (let i = 0; i < 200; i++) await verifier.verify(token);
  const started = performance.now();
  for (let i = 0; i < VERIFICATIONS; i++) await verifier.verify(token);
  return ((performance.now() - started) * 1000) / VERIFICATIONS;
}

const figure = new Figure('h', 'auth', 'anonymous stream opens and the cost of verifying tokens');
const system = await startSystem(2);
const server = await startServer('ours', system.base, {});
const inspect = createRedisClient(server.redis.url, { commandTimeoutMs: 1000, name: 'bench-auth' });
await connectRedis(inspect);
const pair = system.pairs[0]!;
const path = `/stream/${pair.userId}/${pair.profileId}`;
const malformed = `/stream/not-a-uuid/${pair.profileId}`;
const results: Record<string, unknown> = {};
try {
  await inARow(server.url, path, { auth: 'none' }, 50);
  const anonymous = await inARow(server.url, path, { auth: 'none' }, IN_A_ROW);
  const badId = await inARow(server.url, malformed, { auth: 'none' }, IN_A_ROW);
  // Every key but the lock server's own data-set id (written when the pod connected, not by a request).
  const locks = (await inspect.keys('kubescaler:*')).filter((key) => key !== DATASET_KEY);
  const held = await fetch(`${server.url}/metrics`).then((r) => r.text());
  const locksHeld = Number(/^stream_locks_held (\S+)$/m.exec(held)?.[1]);
  const t0 = performance.now();
  const own = await SseClient.open(server.url, path);
  await own.waitForEvent('hello');
  const ownOpenMs = performance.now() - t0;
  await own.close();
  log(
    `${IN_A_ROW} anonymous opens in a row: ${anonymous.seconds.toFixed(2)} s (p50 ${anonymous.latency.p50} ms, p99 ${anonymous.latency.p99} ms) ` +
      `${JSON.stringify(anonymous.statuses)}; then ${locks.length} keys in Redis, stream_locks_held ${locksHeld}, ` +
      `the user's own open took ${ownOpenMs.toFixed(1)} ms`,
  );
  const anonymousFlood = await concurrently(server.url, path, { auth: 'none' }, server.pid);
  const badIdFlood = await concurrently(server.url, malformed, { auth: 'none' }, server.pid);
  const wrongUser = await concurrently(server.url, path, { auth: { userId: randomUUID() } }, server.pid);
  log(
    `${CONCURRENCY} in flight: 401 ${anonymousFlood.perSecond!.toFixed(0)}/s, 403 ${wrongUser.perSecond!.toFixed(0)}/s, ` +
      `400 ${badIdFlood.perSecond!.toFixed(0)}/s`,
  );
  const keysAfterFlood = await inspect.keys('kubescaler:lock:*');

  const secret = testAuthSecret()!;
  const hs256 = await mintUserToken(pair.userId);
  // The signature's cost: a verifier that remembers nothing checks it every time.
  const hsMicros = await verifyCost(new TokenVerifier({ secret, rememberTokens: 0 }), hs256);
  const rememberedMicros = await verifyCost(new TokenVerifier({ secret }), hs256);
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwks = createServer((_request, response) => response.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((done) => jwks.listen(0, '127.0.0.1', done));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/`;
  const es256 = await new SignJWT({ sub: pair.userId, exp: Math.floor(Date.now() / 1000) + 3600 })
    .setProtectedHeader({ alg: 'ES256', kid })
    .sign(privateKey);
  const esMicros = await verifyCost(new TokenVerifier({ jwksUrl, rememberTokens: 0 }), es256);
  await new Promise((done) => jwks.close(done));
  log(
    `verify: HS256 ${hsMicros.toFixed(1)} µs, ES256 (JWKS, cached) ${esMicros.toFixed(1)} µs per token; ` +
      `a remembered token ${rememberedMicros.toFixed(2)} µs`,
  );

  Object.assign(results, {
    anonymous,
    badId,
    redisKeysAfter: locks.length,
    locksHeld,
    ownOpenMs,
    anonymousFlood,
    wrongUser,
    badIdFlood,
    lockKeysAfterFlood: keysAfterFlood.length,
    verifyMicros: { hs256: hsMicros, es256: esMicros, remembered: rememberedMicros },
  });
  // Baseline: the same process refusing a malformed id (400), which reads no token.
  figure.add(`${IN_A_ROW} anonymous opens in a row (401), total`, 's', anonymous.seconds, badId.seconds);
  figure.add('one anonymous open refused, p99', 'ms', anonymous.latency.p99, badId.latency.p99);
  figure.add('locks held and lock keys afterwards', '', locksHeld + locks.length + keysAfterFlood.length, null, {
    goal: '= 0',
  });
  figure.add("the pair's own user opens it afterwards", 'ms', ownOpenMs, null, { goal: '≤ 1000' });
  const perSecond = (r: Refusals) => r.perSecond;
  const cpuPerRefusal = (r: Refusals) => (r.cpuCores! * 1e6) / r.perSecond!;
  const anonymousVsBadId = figure.versus(anonymousFlood, badIdFlood);
  const wrongUserVsBadId = figure.versus(wrongUser, badIdFlood);
  anonymousVsBadId.add(`anonymous refusals/s, ${CONCURRENCY} in flight`, '/s', perSecond, { better: 'higher' });
  wrongUserVsBadId.add(`another user's token refused (403)/s, ${CONCURRENCY} in flight`, '/s', perSecond, {
    better: 'higher',
  });
  anonymousVsBadId.add('stream CPU per anonymous refusal', 'µs', cpuPerRefusal);
  wrongUserVsBadId.add("stream CPU per refusal of another user's token", 'µs', cpuPerRefusal);
  figure.add('verify one HS256 token (secret)', 'µs', hsMicros, null);
  figure.add('verify one ES256 token (JWKS, cached)', 'µs', esMicros, null);
  figure.add('a token verified before (remembered)', 'µs', rememberedMicros, null);
} finally {
  await closeRedis(inspect);
  await server.stop();
  await system.stop();
}
figure.details.results = results;
figure.details.method = {
  inARow: IN_A_ROW,
  concurrency: CONCURRENCY,
  concurrentMs: CONCURRENT_MS,
  verifications: VERIFICATIONS,
  baseline: '400 INVALID_ID from the same stream process (a malformed id: no token is read)',
};
figure.write();
