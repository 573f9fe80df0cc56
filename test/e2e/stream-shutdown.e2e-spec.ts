import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, jsonLogLines, request } from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import { exitOf, expectGauges, Metrics, openStream, streamPath, streamSuite } from '../support/stream-stack.js';

const STREAMS = 50;
/** On SIGTERM every stream is told to reconnect and the process is gone within 10 s. */
const EXIT_DEADLINE_MS = 10_000;

describe('stream on SIGTERM with live streams', () => {
  const suite = streamSuite('streamstop', {
    // A long lease: a lock still in Redis after exit is a leak, not one about to expire.
    env: { LOCK_TTL_MS: '30000', LOCK_RENEW_MS: '5000', POD_NAME: 'stream-leaving' },
    pairs: STREAMS + 1,
  });

  it(`tells all ${STREAMS} clients to reconnect, releases every lock and exits within 10 s`, async (t) => {
    const clients = await Promise.all(suite.pairs.slice(0, STREAMS).map((pair) => openStream(suite.stream.url, pair)));
    await Promise.all(clients.map((client) => client.waitUntil(() => client.messages >= 1, 2000, 'a message')));
    await expectGauges(suite.stream.url, STREAMS);
    assert.equal((await suite.stack.keys('lock')).length, STREAMS);
    assert.equal((await suite.stack.keys('launched')).length, STREAMS);

    const exited = exitOf(suite.stream);
    const signalledAt = performance.now();
    suite.stream.child.kill('SIGTERM');

    // Draining starts before the first reconnect is written: from then on nothing new is admitted.
    await Promise.race(clients.map((client) => client.waitForEvent('reconnect', EXIT_DEADLINE_MS)));
    const late = SseClient.start(suite.stream.url, streamPath(suite.pairs[STREAMS]!));
    const lateAnswer = await late.response.then(
      async () => `${late.status} ${late.streaming ? 'stream' : JSON.stringify(await late.json())}`,
      () => 'connection refused or closed',
    );
    await late.close();
    assert.ok(!late.streaming, 'no stream is admitted while draining');

    await Promise.all(clients.map((client) => client.waitForEvent('reconnect', EXIT_DEADLINE_MS)));
    const reconnectMs =
      Math.max(...clients.map((client) => client.events.find((e) => e.event === 'reconnect')!.at)) - signalledAt;
    await Promise.all(clients.map((client) => client.waitForEnd(EXIT_DEADLINE_MS)));
    const { code, signal } = await exited;
    const exitMs = performance.now() - signalledAt;
    // Keys are read at once: with a 30 s lease, anything still there was not released.
    const [locks, launched] = await Promise.all([suite.stack.keys('lock'), suite.stack.keys('launched')]);
    t.diagnostic(
      `SIGTERM with ${STREAMS} streams: all got reconnect within ${reconnectMs.toFixed(0)} ms, process exited (${signal ?? code}) after ${exitMs.toFixed(0)} ms; ` +
        `a stream asked for while draining got: ${lateAnswer}`,
    );

    for (const client of clients) {
      assert.equal(client.eventNames().at(-1), 'reconnect', 'reconnect is the last event');
      assert.equal(JSON.parse(client.events.at(-1)!.data).pod, 'stream-leaving');
      assert.equal(client.gaps, 0);
    }
    assert.deepEqual(locks, [], 'lock keys left behind');
    assert.deepEqual(launched, [], 'launched records left behind');
    assert.ok(exitMs < EXIT_DEADLINE_MS, `exited after ${exitMs.toFixed(0)} ms`);
    assert.ok(signal === 'SIGTERM' || code === 0, `exit ${code} / ${signal}:\n${suite.stream.output()}`);
    const errors = jsonLogLines(suite.stream.output()).filter(
      (line) => line.level === 'error' || line.level === 'fatal',
    );
    assert.deepEqual(errors, [], 'a clean shutdown logs no error');
    await assert.rejects(request(suite.stream.url, 'GET', '/health/live'), 'the port is closed');
  });
  it('exits within 10 s and releases the lock even when a client has stopped reading', async (t) => {
    const [pair] = await suite.stack.createPairs(1);
    const heavy = await suite.stack.startStream({
      LOCK_TTL_MS: '30000',
      LOCK_RENEW_MS: '5000',
      STREAM_EVENTS_PER_SECOND: '100',
      STREAM_EVENT_BYTES: String(64 * 1024),
      STREAM_MAX_BUFFER_BYTES: String(256 * 1024),
      STREAM_STALL_TIMEOUT_MS: '60000',
      POD_NAME: 'stream-stuck',
    });
    const reader = await openStream(heavy.url, pair!, {});
    const stuck = await openStream(heavy.url, (await suite.stack.createPairs(1))[0]!);
    stuck.stopReading();
    // Its socket and the server's buffer are full once the server starts dropping for it.
    await eventually(
      async () => assert.ok((await Metrics.scrape(heavy.url)).value('stream_events_dropped_total') > 0),
      10_000,
      50,
    );

    const exited = exitOf(heavy);
    const signalledAt = performance.now();
    heavy.child.kill('SIGTERM');
    await reader.waitForEvent('reconnect', EXIT_DEADLINE_MS);
    await exited;
    const exitMs = performance.now() - signalledAt;
    const [locks, launched] = await Promise.all([suite.stack.keys('lock'), suite.stack.keys('launched')]);
    t.diagnostic(`SIGTERM with a stalled client: exited after ${exitMs.toFixed(0)} ms`);
    assert.ok(exitMs < EXIT_DEADLINE_MS, `exited after ${exitMs.toFixed(0)} ms`);
    assert.deepEqual(locks, [], 'lock keys left behind');
    assert.deepEqual(launched, [], 'launched records left behind');
    // What the stalled client had not read is gone with the process; it sees the connection end.
    stuck.resumeReading();
    await stuck.waitForClose(5000);
  });
});
