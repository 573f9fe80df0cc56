// `npm run bench -- publish` — figure k: published events. Publish → receive latency at 1,000
// publishes/s spread over 1,000 live pairs on 2 stream pods (goal p99 ≤ 50 ms), publishes/s one
// main process accepts, and how fast a resume replays the history — each beside the floor of the
// same Redis measured in the same run: the same events PUBLISHed straight to Redis and heard by
// one subscriber (latency), the publish script called straight on Redis (publishes/s), and XRANGE
// of the same history read straight from Redis (replay).
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { pairEventKeys, publishPairEvent } from '@app/events';
import { closeRedis, connectRedis, createRedisClient } from '@app/lock';
import { type AppProcess, RedisServer, startApp } from '@app/testing';
import { ADMIN_TOKEN, Figure, log, metric, scale, sleep, startSystem } from '../load/bench-kit.js';
import { Histogram } from '../load/histogram.js';
import { SseClient } from '../support/sse-client.js';
import { type Pair, streamPath } from '../support/stream-stack.js';

const { PAIRS, RATE, SECONDS, THROUGHPUT_SECONDS, REPLAY_EVENTS, REPLAY_PAIRS } = scale({
  full: { PAIRS: 1000, RATE: 1000, SECONDS: 10, THROUGHPUT_SECONDS: 5, REPLAY_EVENTS: 1000, REPLAY_PAIRS: 10 },
  smoke: { PAIRS: 20, RATE: 100, SECONDS: 2, THROUGHPUT_SECONDS: 1, REPLAY_EVENTS: 50, REPLAY_PAIRS: 2 },
});
const CONCURRENCY = 64;
const HISTORY = {
  STREAM_HISTORY_MAX_EVENTS: String(Math.max(REPLAY_EVENTS, 1000)),
  STREAM_HISTORY_MAX_AGE_MS: '600000',
};
const PUBLISHER_TOKEN = 'bench-publisher-token-0123456789';
/** One event's data: where it was sent from (the bench process's clock), and filler to ≈ 200 bytes. */
const FILLER = 'x'.repeat(160);

const figure = new Figure('k', 'publish', 'published events: publish → receive on 2 pods, publishes/s, resume replay');
const system = await startSystem(PAIRS + REPLAY_PAIRS);
const redis = await RedisServer.start();
const env = { BASE_URL: system.base.url, REDIS_URL: redis.url, LOG_LEVEL: 'error', ...HISTORY };
const apps: AppProcess[] = [];
const inspect = createRedisClient(redis.url, { commandTimeoutMs: 2000, name: 'bench-publish' });
await connectRedis(inspect);
const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });

try {
  const [main, ...pods] = await Promise.all([
    startApp('main', { ...env, ADMIN_TOKEN, PUBLISH_TOKENS: PUBLISHER_TOKEN }),
    startApp('stream', { ...env, POD_NAME: 'stream-1', STREAM_SOURCES: 'published', STREAM_MAX_CONNECTIONS: '5000' }),
    startApp('stream', { ...env, POD_NAME: 'stream-2', STREAM_SOURCES: 'published', STREAM_MAX_CONNECTIONS: '5000' }),
  ]);
  apps.push(main!, ...pods);
  const pairs = system.pairs.slice(0, PAIRS);
  const replayPairs = system.pairs.slice(PAIRS, PAIRS + REPLAY_PAIRS);

  const publishOnce = async (pair: Pair, data: unknown): Promise<number> => {
    const res = await request(`${main!.url}/main/publish/${pair.userId}/${pair.profileId}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${PUBLISHER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'tick', data }),
    });
    await res.body.dump();
    return res.statusCode;
  };

  // --- latency: ours (HTTP → main → Redis → the pod holding the pair → SSE) ---------------------
  const clients: SseClient[] = [];
  for (let i = 0; i < pairs.length; i += 50) {
    clients.push(...(await Promise.all(pairs.slice(i, i + 50).map((pair, j) => open(pods[(i + j) % 2]!.url, pair)))));
  }
  log(`${clients.length} streams open on 2 pods`);
  // A first publish to each pair warms the binding cache and the connections.
  await runOpenLoop(pairs.length, RATE, (i) => publishOnce(pairs[i % pairs.length]!, { warm: true }));
  await sleep(1000);
  const ours = await latencyRun(
    'ours',
    (i) => publishOnce(pairs[i % pairs.length]!, { t: performance.now(), filler: FILLER }),
    () => clients.flatMap((client) => client.published.filter((event) => event.event === 'tick')),
  );
  const live = await Promise.all(pods.map((pod) => metric(pod.url, 'stream_active_connections')));
  const ended = clients.filter((client) => client.endedAt !== undefined).length;
  log(
    `after the run: ${live.join(' + ')} streams live on the pods, ${ended} of ${clients.length} client streams ended`,
  );
  figure.details.afterLatencyRun = { liveOnPods: live, clientStreamsEnded: ended };
  for (const client of clients) await client.close();

  // --- latency: the floor (PUBLISH straight to Redis, one subscriber on every pair's channel) ---
  const subscriber = new Redis(redis.url, { lazyConnect: true });
  await subscriber.connect();
  const floorEvents: { data: string; at: number }[] = [];
  subscriber.on('message', (_channel: string, message: string) =>
    floorEvents.push({ data: message, at: performance.now() }),
  );
  await subscriber.subscribe(...pairs.map((pair) => `bench:floor:${pair.userId}:${pair.profileId}`));
  const floor = await latencyRun(
    'Redis PUBLISH',
    async (i) => {
      const pair = pairs[i % pairs.length]!;
      await inspect.publish(
        `bench:floor:${pair.userId}:${pair.profileId}`,
        JSON.stringify({ t: performance.now(), filler: FILLER }),
      );
      return 202;
    },
    () => floorEvents,
  );
  await closeRedis(subscriber);
  figure.add('publish → receive p50 at 1,000/s over 1,000 pairs, 2 pods', 'ms', ours.p50, floor.p50);
  figure.add('publish → receive p99', 'ms', ours.p99, floor.p99, { goal: '≤ 50' });
  figure.add('published events not received', 'events', ours.missing, floor.missing, { goal: '= 0' });

  // --- publishes/s ------------------------------------------------------------------------------
  const oursRate = await closedLoop((i) => publishOnce(pairs[i % pairs.length]!, { n: i, filler: FILLER }));
  const floorRate = await closedLoop(async (i) => {
    const pair = pairs[i % pairs.length]!;
    await publishPairEvent(inspect, pair.userId, pair.profileId, 'tick', JSON.stringify({ n: i, filler: FILLER }), {
      maxEvents: Number(HISTORY.STREAM_HISTORY_MAX_EVENTS),
      maxAgeMs: Number(HISTORY.STREAM_HISTORY_MAX_AGE_MS),
    });
    return 202;
  });
  figure.add(`publishes/s accepted (${CONCURRENCY} in flight)`, 'publishes/s', oursRate, floorRate, {
    better: 'higher',
  });

  // --- resume replay ----------------------------------------------------------------------------
  const replay = { ours: [] as number[], oursWithAdmission: [] as number[], floor: [] as number[] };
  for (const pair of replayPairs) {
    const start = await open(pods[0]!.url, pair);
    const lastEventId = start.lastEventId!;
    await start.close();
    for (let i = 0; i < REPLAY_EVENTS; i += CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, REPLAY_EVENTS - i) }, (_, j) =>
          publishOnce(pair, { n: i + j, filler: FILLER }),
        ),
      );
    }
    await sleep(200);
    const began = performance.now();
    const resumed = await SseClient.open(pods[1]!.url, streamPath(pair), {
      headers: { 'Last-Event-ID': lastEventId },
      keepMessageData: true,
    });
    await resumed.waitUntil(() => resumed.published.length >= REPLAY_EVENTS, 30_000, 'the replay');
    const done = performance.now();
    // From the stream's first byte (admission done: `hello`) to the last missed event.
    const hello = resumed.events.find((event) => event.event === 'hello')!;
    replay.ours.push(REPLAY_EVENTS / ((resumed.published.at(-1)!.at - hello.at) / 1000));
    replay.oursWithAdmission.push(REPLAY_EVENTS / ((done - began) / 1000));
    const at = (i: number) => Math.round(resumed.published[i]!.at - hello.at);
    log(
      `replay: hello ${Math.round(hello.at - began)} ms after the request; events at +${at(0)}, +${at(Math.floor(REPLAY_EVENTS / 2))}, +${at(REPLAY_EVENTS - 1)} ms`,
    );
    await resumed.close();
    const floorBegan = performance.now();
    const entries = await inspect.xrange(pairEventKeys(pair.userId, pair.profileId).events, '-', '+');
    if (entries.length < REPLAY_EVENTS) throw new Error(`history holds ${entries.length} of ${REPLAY_EVENTS}`);
    replay.floor.push(REPLAY_EVENTS / ((performance.now() - floorBegan) / 1000));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  figure.add(
    `resume replay of ${REPLAY_EVENTS} missed events (hello to last event)`,
    'events/s',
    Math.round(median(replay.ours)),
    Math.round(median(replay.floor)),
    { better: 'higher', note: 'baseline: XRANGE of the same history straight from Redis' },
  );
  figure.add(
    `resume of ${REPLAY_EVENTS} missed events, admission included (request to last event)`,
    'events/s',
    Math.round(median(replay.oursWithAdmission)),
    Math.round(median(replay.floor)),
    { better: 'higher' },
  );
  figure.details.latency = { ours, floor };
  figure.details.replay = replay;
} finally {
  await agent.close();
  await closeRedis(inspect);
  await Promise.all(apps.map((app) => app.stop()));
  await redis.dispose();
  await system.stop();
}
figure.write();

/** Opens a stream as a client that retries does: again after a refusal (a 503 on a busy box), 10 times at most. */
async function open(url: string, pair: Pair): Promise<SseClient> {
  for (let attempt = 1; ; attempt++) {
    const client = await SseClient.open(url, streamPath(pair), { keepMessageData: true });
    if (client.streaming) {
      await client.waitForEvent('hello');
      return client;
    }
    const refusal = client.text;
    await client.close();
    if (attempt === 10) throw new Error(`${streamPath(pair)} refused 10 times: ${client.status} ${refusal}`);
    await sleep(200);
  }
}

/** Sends `count` calls at `rate` per second (open loop, in 10 ms ticks); resolves when all answered. */
async function runOpenLoop(count: number, rate: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: Promise<number>[] = [];
  const perTick = rate / 100;
  const started = performance.now();
  while (statuses.length < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 10) * perTick) + 1);
    while (statuses.length < due) statuses.push(send(statuses.length).catch(() => 0));
    await sleep(10);
  }
  return Promise.all(statuses);
}

/** Publishes at RATE for SECONDS, then reads the latencies `received()` recorded (`{t}` in the data). */
async function latencyRun(
  label: string,
  send: (i: number) => Promise<number>,
  received: () => { data: string; at: number }[],
): Promise<{ p50: number; p99: number; max: number; count: number; missing: number; refused: number }> {
  // Only events stamped with `t` are this run's (warm-up events carry none).
  const stamped = () => received().filter((event) => event.data.startsWith('{"t":'));
  const statuses = await runOpenLoop(RATE * SECONDS, RATE, send);
  const accepted = statuses.filter((status) => status === 202).length;
  const deadline = performance.now() + 5000;
  while (stamped().length < accepted && performance.now() < deadline) await sleep(50);
  const histogram = new Histogram();
  for (const event of stamped()) histogram.record(event.at - (JSON.parse(event.data) as { t: number }).t);
  const result = {
    p50: round(histogram.percentile(50)),
    p99: round(histogram.percentile(99)),
    max: round(histogram.percentile(100)),
    count: histogram.count,
    missing: accepted - histogram.count,
    refused: statuses.length - accepted,
  };
  log(`${label}: ${JSON.stringify(result)}`);
  return result;
}

/** Calls `send` with CONCURRENCY in flight for THROUGHPUT_SECONDS; returns accepted calls per second. */
async function closedLoop(send: (i: number) => Promise<number>): Promise<number> {
  let next = 0;
  let accepted = 0;
  const until = performance.now() + THROUGHPUT_SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) if ((await send(next++)) === 202) accepted++;
    }),
  );
  return Math.round(accepted / ((performance.now() - started) / 1000));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
