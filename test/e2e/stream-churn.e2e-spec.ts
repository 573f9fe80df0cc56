import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HandshakeAbort, SseClient } from '../support/sse-client.js';
import {
  expectRefusal,
  gaugesSettle,
  Metrics,
  openStream,
  type Pair,
  streamPath,
  streamSuite,
} from '../support/stream-stack.js';
import { eventually } from '@app/testing';

const CYCLES = 500;
const WORKERS = 20;

type Cycle = 'hello' | 'messages' | 'head' | HandshakeAbort;
/** Cycles rotate through these: what a flapping browser and a flaky network produce. */
const KINDS: readonly Cycle[] = [
  'hello',
  'request-sent',
  'messages',
  'connected',
  'head',
  'partial-request',
  'half-closed',
];

describe('stream under rapid connect/disconnect churn', () => {
  const suite = streamSuite('streamchurn', { pairs: WORKERS });

  /** One cycle; resolves with what the server answered ('aborted' when the client left first). */
  const cycle = async (pair: Pair, kind: Cycle): Promise<'streamed' | 'in-use' | 'aborted'> => {
    const path = streamPath(pair);
    if (kind === 'connected' || kind === 'partial-request' || kind === 'request-sent' || kind === 'half-closed') {
      await SseClient.abort(suite.stream.url, path, kind);
      return 'aborted';
    }
    const client = SseClient.start(suite.stream.url, path);
    await client.response;
    if (!client.streaming) {
      // The same pair was closed a moment ago: its release may still be in flight.
      await expectRefusal(client, 409, 'PROFILE_IN_USE');
      await client.close();
      return 'in-use';
    }
    if (kind === 'hello') await client.waitForEvent('hello');
    if (kind === 'messages') await client.waitUntil(() => client.messages >= 2, 2000, 'two messages');
    await client.close();
    return 'streamed';
  };

  it(`ends with both gauges at 0 and no lock or launched record left after ${CYCLES} cycles, some aborted mid-handshake`, async (t) => {
    const outcomes = { streamed: 0, 'in-use': 0, aborted: 0 };
    let next = 0;
    const started = performance.now();
    await Promise.all(
      suite.pairs.map(async (pair) => {
        for (let i = next++; i < CYCLES; i = next++) outcomes[await cycle(pair, KINDS[i % KINDS.length]!)]++;
      }),
    );
    const churnMs = performance.now() - started;

    await gaugesSettle(suite.stream.url, 0);
    const settledMs = performance.now() - started - churnMs;
    await eventually(async () => {
      assert.deepEqual(await suite.stack.keys('lock'), [], 'lock keys left');
      assert.deepEqual(await suite.stack.keys('launched'), [], 'launched records left');
    }, 1000);
    const metrics = await Metrics.scrape(suite.stream.url);
    const acquired = metrics.value('stream_lock_acquire_duration_seconds_count');
    t.diagnostic(
      `${CYCLES} cycles in ${churnMs.toFixed(0)} ms: ${outcomes.streamed} streamed, ${outcomes['in-use']} refused 409 (release still in flight), ` +
        `${outcomes.aborted} aborted mid-handshake (${acquired - outcomes.streamed} of them after the lock was taken); ` +
        `gauges at 0 ${settledMs.toFixed(0)} ms after the last cycle`,
    );
    assert.equal(outcomes.streamed + outcomes['in-use'] + outcomes.aborted, CYCLES);
    assert.ok(outcomes.streamed >= CYCLES / 5, 'a good share of the full cycles streamed');
    assert.ok(acquired > outcomes.streamed, 'some clients left while their lock was being taken');

    for (const reason of ['unavailable', 'full', 'not_found', 'not_bound', 'bad_request', 'draining']) {
      assert.equal(metrics.value('stream_connections_rejected_total', { reason }), 0, `rejected for ${reason}`);
    }
    assert.equal(metrics.value('stream_lock_lost_total'), 0);

    // Nothing is wedged: every pair streams again, and the gauges follow.
    const clients = await Promise.all(
      suite.pairs.map((pair) => eventually(() => openStream(suite.stream.url, pair), 1000)),
    );
    assert.equal((await Metrics.scrape(suite.stream.url)).active, WORKERS);
    await Promise.all(clients.map((client) => client.close()));
    await gaugesSettle(suite.stream.url, 0);
  });
});
