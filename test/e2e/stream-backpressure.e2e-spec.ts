import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pairKeys } from '@app/lock';
import type { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  gapsToEnd,
  gaugesSettle,
  Metrics,
  mib,
  openStream,
  rssBytes,
  streamSuite,
} from '../support/stream-stack.js';
import { eventually } from '@app/testing';

/** 100 events/s × 64 KiB ≈ 6.5 MB/s per stream: a stalled socket fills its kernel buffers in well under a second. */
const EVENTS_PER_SECOND = 100;
const EVENT_BYTES = 64 * 1024;
const MAX_BUFFER_BYTES = 1024 * 1024;
/** Events the server must have dropped for the slow reader before the test lets it read again (≈ 20 MB unsent). */
const DROPS_WHILE_STALLED = 300;
/** What "RSS stays bounded" means here: well under the ≈ 20 MB a queueing server would have piled up. */
const RSS_GROWTH_LIMIT = 10 * 1024 * 1024;

describe('stream backpressure: a slow reader and a fast reader on one instance', () => {
  const suite = streamSuite('streambp', {
    env: {
      STREAM_EVENTS_PER_SECOND: String(EVENTS_PER_SECOND),
      STREAM_EVENT_BYTES: String(EVENT_BYTES),
      STREAM_MAX_BUFFER_BYTES: String(MAX_BUFFER_BYTES),
      // Far beyond this test: the stalled reader must be dropped for, not disconnected.
      STREAM_STALL_TIMEOUT_MS: '60000',
    },
    pairs: 2,
  });

  /** Waits until `client` receives a message generated at or after `epochMs` (server clock = this host's clock). */
  const liveSince = (client: SseClient, epochMs: number, timeoutMs: number) =>
    client.waitUntil(
      () => (client.lastMessage?.timestamp ?? 0) >= epochMs,
      timeoutMs,
      `a message generated after ${epochMs}`,
    );

  it('drops for the slow reader only, keeps RSS bounded, and its seq gaps equal the dropped count exactly', async (t) => {
    const fast = await openStream(suite.stream.url, suite.pairs[0]!);
    const slow = await openStream(suite.stream.url, suite.pairs[1]!);
    await expectGauges(suite.stream.url, 2);
    const pid = suite.stream.child.pid!;
    await Promise.all([fast, slow].map((client) => client.waitUntil(() => client.messages >= 50, 5000, '50 messages')));
    const rssBefore = rssBytes(pid);

    slow.stopReading();
    const stalledAt = performance.now();
    await eventually(
      async () =>
        assert.ok((await Metrics.scrape(suite.stream.url)).value('stream_events_dropped_total') >= DROPS_WHILE_STALLED),
      20_000,
      100,
    );
    const stalledMs = performance.now() - stalledAt;
    const rssStalled = rssBytes(pid);
    await expectGauges(suite.stream.url, 2, 'while one reader is stalled');

    slow.resumeReading();
    // Read until the backlog is gone and the slow reader is live again.
    await liveSince(slow, Date.now() + 300, 10_000);

    // End both streams from the server side, so that every event the server generated is either
    // delivered (and read to the end of the response) or dropped: the counters are then final.
    await suite.stack.inspect.del(...suite.pairs.map((pair) => pairKeys(pair.userId, pair.profileId).lock));
    await Promise.all([fast, slow].map((client) => client.waitForEvent('lock-lost', 3000)));
    await Promise.all([fast, slow].map((client) => client.waitForEnd(3000)));
    const metrics = await Metrics.scrape(suite.stream.url);
    const rssAfter = rssBytes(pid);
    await Promise.all([fast.close(), slow.close()]);
    await gaugesSettle(suite.stream.url, 0);

    const dropped = metrics.value('stream_events_dropped_total');
    const sent = metrics.value('stream_events_sent_total');
    const bytesSent = metrics.value('stream_bytes_sent_total');
    const fastShare = fast.messages / fast.lastSeq;
    t.diagnostic(
      `RSS ${mib(rssBefore)} before, ${mib(rssStalled)} after ${(stalledMs / 1000).toFixed(1)} s stalled, ${mib(rssAfter)} at the end`,
    );
    t.diagnostic(
      `fast reader: ${fast.messages}/${fast.lastSeq} events (${(fastShare * 100).toFixed(2)} %), ${fast.gaps} gaps; ` +
        `slow reader: ${slow.messages}/${slow.lastSeq} events, ${slow.gaps} gaps; server: ${dropped} dropped, ${sent} sent`,
    );

    assert.deepEqual([...fast.protocolErrors, ...slow.protocolErrors], []);
    assert.equal(fast.disorders + slow.disorders, 0, 'seq never goes backwards');
    assert.ok(slow.gaps >= DROPS_WHILE_STALLED, 'the stalled reader was dropped for');
    assert.equal(
      gapsToEnd(slow),
      dropped - gapsToEnd(fast),
      'the slow reader sees exactly the drops the server counted for it',
    );
    assert.equal(fast.messages + slow.messages, sent, 'every event the server sent was received');
    assert.equal(fast.bodyBytes + slow.bodyBytes, bytesSent, 'every byte the server counted was received, and no more');
    assert.ok(fastShare >= 0.99, `the fast reader received ${(fastShare * 100).toFixed(2)} %`);
    assert.ok(rssStalled - rssBefore < RSS_GROWTH_LIMIT, `RSS grew by ${mib(rssStalled - rssBefore)} while stalled`);
  });

  it('closes a reader stalled longer than STREAM_STALL_TIMEOUT_MS and frees its lock', async (t) => {
    const strict = await suite.stack.startStream({
      STREAM_EVENTS_PER_SECOND: String(EVENTS_PER_SECOND),
      STREAM_EVENT_BYTES: String(EVENT_BYTES),
      STREAM_MAX_BUFFER_BYTES: String(MAX_BUFFER_BYTES),
      STREAM_STALL_TIMEOUT_MS: '1000',
      POD_NAME: 'stream-strict',
    });
    const [pair] = await suite.stack.createPairs(1);
    const stuck = await openStream(strict.url, pair!);
    stuck.stopReading();
    const stalledAt = performance.now();
    await gaugesSettle(strict.url, 0, 10_000);
    t.diagnostic(`stalled reader closed ${(performance.now() - stalledAt).toFixed(0)} ms after it stopped reading`);
    // A reader that does not read cannot see the close either: reading again reaches it.
    stuck.resumeReading();
    await stuck.waitForClose(5000);
    await eventually(async () => assert.deepEqual(await suite.stack.keys('lock'), []), 1000);
    const again = await openStream(strict.url, pair!);
    await again.close();
    await gaugesSettle(strict.url, 0);
  });
});
