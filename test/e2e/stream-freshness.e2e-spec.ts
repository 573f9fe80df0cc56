// Slow readers through the nginx gateway, with the stream tier's DEFAULT settings (4 events/s ×
// 64 KiB, STREAM_MAX_LAG_MS, STREAM_SOCKET_NOTSENT_LOWAT_BYTES): what each hop queues for a
// reader that stopped, the age of what a reader at half the rate receives, what a reader that
// stalled gets when it reads again, that a fast reader beside them loses nothing, that the pod's
// drop counter equals the gaps the clients saw, and that a resumed stream shows the real gap.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import { eventually, testInfra } from '@app/testing';
import { kernelSockets, type KernelSocket } from '../support/kernel-sockets.js';
import { percentile } from '../support/latency.js';
import type { MessageRecord, SseClient, SseClientOptions } from '../support/sse-client.js';
import {
  createPairs,
  expectRefusal,
  gapsToEnd,
  helloOf,
  Metrics,
  openStream,
  type Pair,
  streamPath,
} from '../support/stream-stack.js';
import { SseClient as Client } from '../support/sse-client.js';
import { startSystem, type System } from '../support/system.js';

/** The default stream: 4 events/s of 64 KiB payload (each frame ≈ 65,700 bytes). */
const EVENTS_PER_SECOND = 4;
const STREAM_BYTES_PER_SECOND = EVENTS_PER_SECOND * 65_700;
const KIB = 1024;
/**
 * A reader on a link that carries half the stream: it reads promptly, with a receive window
 * the size of a slow link's bandwidth-delay product, so the backlog forms on the sending side
 * as it would on a real slow link (a reader whose own buffer hoards data adds that buffer's
 * worth of age, which no server can take back).
 */
const HALF_RATE: SseClientOptions = {
  readBytesPerSecond: STREAM_BYTES_PER_SECOND / 2,
  receiveBufferBytes: 16 * KIB,
  recordMessages: true,
};

const ages = (log: readonly MessageRecord[]) => log.map((m) => m.receivedAt - m.timestamp);
const fmt = (values: readonly number[]) =>
  `p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (${values.length} events)`;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('slow readers through the nginx gateway, default stream settings', () => {
  testInfra();
  let system: System;
  let redis: Redis;
  let pairs: Pair[];
  let nextPair = 0;
  const pair = () => pairs[nextPair++]!;
  const streamPorts = () => system.streams.map((s) => s.port);
  const gatewayPort = () => Number(new URL(system.gateway.url).port);

  /** Streams a test opened and has not ended yet: ended after each test, whatever its outcome. */
  const live = new Set<{ client: SseClient; pair: Pair }>();

  /** Opens a stream through the gateway (or straight at `url`) and waits for its first message. */
  const open = async (options: SseClientOptions = {}, p = pair(), url = system.gateway.url) => {
    const client = await openStream(url, p, options);
    const stream = { client, pair: p };
    live.add(stream);
    await client.waitUntil(() => client.messages > 0, 5000, 'a first message');
    return stream;
  };

  /** Ends streams from the server side (their lock is taken away: `lock-lost`), so every counter is final. */
  const endFromServer = async (streams: readonly { client: SseClient; pair: Pair }[]) => {
    if (streams.length === 0) return;
    await redis.del(...streams.map(({ pair: p }) => pairKeys(p.userId, p.profileId).lock));
    for (const { client } of streams) client.resumeReading();
    await Promise.all(streams.map(({ client }) => client.waitForEnd(15_000)));
    for (const stream of streams) live.delete(stream);
  };

  const podTotals = async () => {
    const all = await Promise.all(system.streams.map((s) => Metrics.scrape(s.url)));
    const sum = (name: string) => all.reduce((total, m) => total + m.value(name), 0);
    return {
      sent: sum('stream_events_sent_total'),
      dropped: sum('stream_events_dropped_total'),
      bytes: sum('stream_bytes_sent_total'),
      lowatApplied: all.map((m) => m.value('stream_socket_notsent_lowat_applied')),
    };
  };

  before(async () => {
    system = await startSystem({ streams: 2 });
    redis = createRedisClient(process.env.REDIS_URL!, { commandTimeoutMs: 1000, name: 'test-freshness' });
    await connectRedis(redis);
    pairs = await createPairs(system.base.url, 24);
  });

  afterEach(async () => {
    await endFromServer([...live]);
    await Promise.all([...live].map(({ client }) => client.close()));
    live.clear();
  });

  after(async () => {
    if (redis) await closeRedis(redis);
    await system?.stop();
  });

  it('caps what the kernel queues for a reader that stopped reading, on every hop, while a fast reader loses nothing', async (t) => {
    assert.deepEqual((await podTotals()).lowatApplied, [1, 1], 'TCP_NOTSENT_LOWAT is set on the SSE sockets');
    const fast = await open();
    const stalled = await Promise.all(Array.from({ length: 4 }, () => open()));
    for (const { client } of stalled) client.stopReading();
    await sleep(10_000);

    const pods = kernelSockets(streamPorts());
    const podSide = pods.filter((s) => streamPorts().includes(s.localPort));
    const nginxUpstream = pods.filter((s) => streamPorts().includes(s.peerPort));
    const gatewaySide = kernelSockets([gatewayPort()]);
    const nginxClientSide = gatewaySide.filter((s) => s.localPort === gatewayPort());
    const clients = gatewaySide.filter((s) => s.peerPort === gatewayPort());
    const stalledPod = podSide.filter((s) => s.sendQ > 0);
    const show = (label: string, sockets: KernelSocket[]) =>
      t.diagnostic(
        `${label}: ${sockets.map((s) => `q ${(Math.max(s.sendQ, s.recvQ) / KIB).toFixed(0)} KiB / mem ${(s.memoryBytes / KIB).toFixed(0)} KiB`).join('; ')}`,
      );
    show('pod send side', podSide);
    show('nginx upstream receive side', nginxUpstream);
    show('nginx client send side', nginxClientSide);
    show('clients receive side', clients);

    assert.ok(stalledPod.length >= 4, `${stalledPod.length} pod sockets hold unsent bytes`);
    // What the kernel may queue unsent: TCP_NOTSENT_LOWAT (128 KiB) plus the one segment it is filling.
    for (const socket of podSide) {
      assert.ok(socket.sendQ <= 200 * KIB, `pod socket :${socket.peerPort} queues ${socket.sendQ} bytes`);
      assert.ok(socket.memoryBytes <= 256 * KIB, `pod socket :${socket.peerPort} holds ${socket.memoryBytes} bytes`);
    }
    // nginx's connections of the stalled streams hold what it could not pass on (the test's own
    // idle connections to the pods, for metrics, have the kernel's default buffer and hold nothing).
    const nginxHolding = nginxUpstream.filter((s) => s.recvQ > 0);
    assert.ok(nginxHolding.length >= 4, `${nginxHolding.length} of nginx's upstream sockets hold unread bytes`);
    for (const socket of nginxHolding) {
      // GATEWAY_TUNING.upstreamRcvbuf (16k; the kernel doubles it), never autotuned to megabytes.
      assert.ok(socket.skmem.rb <= 64 * KIB, `nginx's upstream receive buffer is fixed (rb ${socket.skmem.rb})`);
    }
    for (const socket of nginxClientSide) {
      assert.ok(socket.skmem.tb <= 256 * KIB, `nginx's client send buffer is bounded (tb ${socket.skmem.tb})`);
    }
    assert.equal(fast.client.gaps, 0, 'the fast reader lost nothing');
    assert.equal(fast.client.disorders, 0);
    await endFromServer([fast, ...stalled]);
    for (const { client } of stalled)
      assert.ok(client.gaps > 20, `a stalled reader was dropped for (${client.gaps} gaps)`);
  });

  it('gives a reader at half the rate events at most 2 s old at p99, through nginx as straight from the pod, however long it reads', async (t) => {
    const reader = await open(HALF_RATE);
    const direct = await open(HALF_RATE, pair(), system.streams[0]!.url);
    const fast = await open({ recordMessages: true });
    const started = Date.now();
    await sleep(40_000);
    const settled = (log: readonly MessageRecord[], from: number, to: number) =>
      ages(log.filter((m) => m.receivedAt >= started + from && m.receivedAt < started + to));
    const firstHalf = settled(reader.client.messageLog, 5000, 22_500);
    const secondHalf = settled(reader.client.messageLog, 22_500, 40_000);
    const straight = settled(direct.client.messageLog, 5000, 40_000);
    t.diagnostic(`half-rate reader through nginx, 5–22.5 s: ${fmt(firstHalf)}`);
    t.diagnostic(`half-rate reader through nginx, 22.5–40 s: ${fmt(secondHalf)}`);
    t.diagnostic(`half-rate reader straight at the pod, 5–40 s: ${fmt(straight)}`);
    t.diagnostic(`through nginx it received ${reader.client.messages} events, ${reader.client.gaps} gaps`);
    t.diagnostic(`fast reader beside them: ${fmt(ages(fast.client.messageLog))}, ${fast.client.gaps} gaps`);
    await endFromServer([reader, direct, fast]);

    assert.ok(percentile(straight, 99) <= 2000, `straight from the pod: age p99 ${percentile(straight, 99)} ms`);
    // nginx's upstream receive buffer is fixed (GATEWAY_TUNING.upstreamRcvbuf), so the queue it adds
    // stays small and the backlog reaches the pod, which drops by age.
    for (const [label, values] of [
      ['5–22.5 s', firstHalf],
      ['22.5–40 s', secondHalf],
    ] as const) {
      assert.ok(percentile(values, 99) <= 2000, `through nginx, ${label}: age p99 ${percentile(values, 99)} ms`);
    }
    assert.ok(reader.client.gaps > 0, 'the pod dropped for the reader behind nginx');
    const received = reader.client.messages / 40;
    assert.ok(received >= 1.5, `it still receives ${received.toFixed(2)} events/s of the 2 its link carries`);
    assert.equal(fast.client.gaps, 0, 'the fast reader lost nothing');
  });

  it('gives a reader that stalled and reads again fresh events within 1 s, not a backlog', async (t) => {
    const reader = await open({ recordMessages: true });
    const fast = await open();
    await sleep(2000);
    reader.client.stopReading();
    await sleep(15_000);
    const resumedAt = Date.now();
    const before = reader.client.messageLog.length;
    reader.client.resumeReading();
    await sleep(3000);
    const after = reader.client.messageLog.slice(before);
    const firstFresh = after.find((m) => m.receivedAt - m.timestamp <= 1000);
    const stale = after.filter((m) => m.receivedAt - m.timestamp > 1000);
    t.diagnostic(
      `after resuming: ${stale.length} stale events (ages ${stale.map((m) => m.receivedAt - m.timestamp).join(', ')} ms), ` +
        `first fresh event ${firstFresh ? firstFresh.receivedAt - resumedAt : '–'} ms after resuming; ` +
        `then ${fmt(ages(after.filter((m) => m.receivedAt > resumedAt + 1000)))}`,
    );
    await endFromServer([reader, fast]);

    assert.ok(firstFresh, 'a fresh event arrived');
    assert.ok(
      firstFresh.receivedAt - resumedAt <= 1000,
      `first fresh event ${firstFresh.receivedAt - resumedAt} ms after resuming`,
    );
    // Only what the bounded buffers held when it stopped (pod kernel, nginx, its own socket) arrives
    // stale, at once; the events of the rest of the stall were dropped, not queued.
    const dueWhileStalled = 15 * EVENTS_PER_SECOND;
    assert.ok(
      stale.length <= dueWhileStalled / 2,
      `${stale.length} of ${dueWhileStalled} events due while stalled arrived stale`,
    );
    assert.ok(
      stale.every((m) => m.receivedAt - resumedAt <= 1000),
      'what arrives stale arrives at once',
    );
    assert.ok(
      after.filter((m) => m.receivedAt > resumedAt + 1000).every((m) => m.receivedAt - m.timestamp <= 1000),
      'from 1 s after resuming on, every event is fresh',
    );
    assert.equal(fast.client.gaps, 0, 'the fast reader lost nothing');
  });

  it('counts exactly the drops the clients see as gaps', async (t) => {
    const before = await podTotals();
    const fast = await Promise.all([open(), open()]);
    const half = await open(HALF_RATE);
    const stalled = await open();
    const stallThenResume = await open();
    stalled.client.stopReading();
    stallThenResume.client.stopReading();
    await sleep(6000);
    stallThenResume.client.resumeReading();
    await sleep(4000);
    const all = [...fast, half, stalled, stallThenResume];
    await endFromServer(all);
    // Every event the pods generated for these streams was delivered (and read to the end of the
    // response) or dropped: the counters are final once the responses ended.
    const after = await podTotals();
    const clients = all.map(({ client }) => client);
    t.diagnostic(
      `pods: ${after.sent - before.sent} sent, ${after.dropped - before.dropped} dropped; clients: ` +
        clients
          .map(
            (c) =>
              `${c.messages} received, ${c.gaps} gaps, last seq ${c.lastSeq}, ${c
                .eventNames()
                .filter((n) => n !== 'message')
                .join('+')}`,
          )
          .join('; '),
    );
    const gaps = clients.reduce((sum, c) => sum + gapsToEnd(c), 0);
    const messages = clients.reduce((sum, c) => sum + c.messages, 0);
    assert.deepEqual(
      clients.flatMap((c) => c.protocolErrors),
      [],
    );
    assert.equal(
      clients.reduce((sum, c) => sum + c.disorders, 0),
      0,
      'seq never goes backwards',
    );
    assert.ok(gaps > 50, `the slow readers were dropped for (${gaps} gaps)`);
    assert.equal(after.dropped - before.dropped, gaps, 'drops counted by the pods = gaps seen by the clients');
    assert.equal(after.sent - before.sent, messages, 'events counted as sent = events received');
    assert.equal(fast[0]!.client.gaps + fast[1]!.client.gaps, 0, 'the fast readers lost nothing');
    assert.deepEqual(after.lowatApplied, [1, 1], 'the kernel queue is still capped after streams behind have ended');
  });

  it('refuses a malformed Last-Event-ID with 400 before any event, and takes no lock', async () => {
    const p = pair();
    const client = await Client.open(system.gateway.url, streamPath(p), { headers: { 'Last-Event-ID': 'seven' } });
    const body = await expectRefusal(client, 400, 'INVALID_LAST_EVENT_ID');
    assert.match(body.message, /Last-Event-ID/);
    await client.close();
    assert.equal(await redis.exists(pairKeys(p.userId, p.profileId).lock), 0);
  });

  it('continues the sequence on another pod after a hand-over, so the client sees the real gap', async (t: TestContext) => {
    const p = pair();
    const first = await open({}, p);
    await first.client.waitUntil(() => first.client.messages >= 8, 5000, '8 messages');
    const from = helloOf(first.client).pod;
    const leaving = system.streams.find((s) => s.port === podPort(from));
    assert.ok(leaving, `pod ${from} not found`);
    // The pod shuts down: the client is told to reconnect and does so 2 s later, sending the last seq it has.
    await leaving.stop();
    await first.client.waitForEnd(10_000);
    const lastSeq = first.client.lastSeq;
    const lastArrival = first.client.events.filter((e) => e.event === 'message').at(-1)!.at;
    await sleep(2000);
    const second = await eventually(
      () => openStream(system.gateway.url, p, { headers: { 'Last-Event-ID': String(lastSeq) } }),
      10_000,
      200,
    );
    await second.waitUntil(() => second.messages > 0, 5000, 'a first message');
    const awayMs = second.events.find((e) => e.event === 'message')!.at - lastArrival;
    const firstSeq = second.lastMessage!.seq - second.messages + 1;
    const gap = firstSeq - lastSeq - 1;
    const due = (awayMs / 1000) * EVENTS_PER_SECOND;
    t.diagnostic(
      `${from} → ${helloOf(second).pod}: last seq ${lastSeq}, first seq after ${firstSeq}, gap ${gap}; away ${awayMs.toFixed(0)} ms = ${due.toFixed(1)} events due`,
    );
    assert.notEqual(helloOf(second).pod, from, 'another pod took the stream over');
    assert.equal(second.gaps, gap, 'the client counts the hand-over as a gap from its Last-Event-ID');
    assert.ok(gap >= due - 3 && gap <= due + 1, `gap ${gap} for ${due.toFixed(1)} events due while away`);
    await second.close();
  });

  /** The port of pod `stream-N` (startSystem names replicas in order). */
  function podPort(pod: string): number {
    const index = Number(/^stream-(\d+)$/.exec(pod)?.[1]) - 1;
    return system.streams[index]!.port;
  }
});
