import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { eventually, mintUserToken } from '@app/testing';
import { NetworkSwitch } from '../support/network-switch.js';
import { expectGauges, gaugesSettle, type Pair, streamPath, streamSuite } from '../support/stream-stack.js';

/** A standard EventSource (npm `eventsource`, WHATWG rules) and what it received. */
class Watched {
  readonly source: EventSource;
  readonly hellos: { fencingToken: number; pod: string; at: number; lastEventId: string }[] = [];
  readonly refusals: { code: string; retryMs: number }[] = [];
  messages = 0;
  errors = 0;

  constructor(url: string) {
    this.source = new EventSource(url);
    this.source.addEventListener('hello', (event) => {
      const { fencingToken, pod } = JSON.parse(event.data);
      this.hellos.push({ fencingToken, pod, at: performance.now(), lastEventId: event.lastEventId });
    });
    this.source.addEventListener('refused', (event) => {
      const { code, retryMs } = JSON.parse(event.data);
      this.refusals.push({ code, retryMs });
    });
    this.source.addEventListener('message', () => this.messages++);
    this.source.addEventListener('error', () => this.errors++);
  }

  /** CLOSED without our `close()`: the client gave up for good. */
  get deadEnded(): boolean {
    return this.source.readyState === EventSource.CLOSED;
  }

  close(): void {
    this.source.close();
  }
}

describe('standard EventSource clients never dead-end', () => {
  const suite = streamSuite('standardclients', { pods: ['stream-a'], pairs: 3 });
  let network: NetworkSwitch;
  const opened: Watched[] = [];

  before(async () => {
    network = await new NetworkSwitch(Number(new URL(suite.stream.url).port)).start();
  });
  after(async () => {
    await network?.stop();
  });
  // Whatever a case asserted, its clients are gone before the next one counts sockets.
  afterEach(async () => {
    for (const client of opened.splice(0)) client.close();
    await gaugesSettle(suite.stream.url, 0);
  });

  async function watch(pair: Pair, via = network.url): Promise<Watched> {
    const token = await mintUserToken(pair.userId);
    const client = new Watched(`${via}${streamPath(pair)}?access_token=${token}`);
    opened.push(client);
    return client;
  }

  it('gets its stream back at once after a network switch: the dead predecessor is replaced with a new fencing token', async () => {
    const pair = suite.pairs[0]!;
    const client = await watch(pair);
    await eventually(async () => assert.ok(client.hellos.length === 1 && client.messages >= 2), 3000);
    const first = client.hellos[0]!;
    await expectGauges(suite.stream.url, 1);

    const switchedAt = performance.now();
    network.switchNetwork();
    await eventually(async () => assert.equal(client.hellos.length, 2), 5000, 20);
    const second = client.hellos[1]!;
    assert.ok(second.fencingToken > first.fencingToken, `${second.fencingToken} > ${first.fencingToken}`);
    // The reconnect waits `retry:` (1000 ms) and is then served at once, not after a lease.
    assert.ok(second.at - switchedAt < 2500, `back after ${Math.round(second.at - switchedAt)} ms`);
    assert.deepEqual(client.refusals, [], 'never refused');
    assert.equal(client.deadEnded, false);
    // The predecessor, still open on the pod, is closed at once: gauges = sockets = 1.
    await gaugesSettle(suite.stream.url, 1);
    await eventually(async () => assert.equal(network.strandedOpen, 0), 2000, 20);
    assert.equal((await suite.stack.launchedRecord(pair))?.fencingToken, second.fencingToken);
    client.close();
    await gaugesSettle(suite.stream.url, 0);
  });

  it('keeps a different client of the same user (another tab) waiting, told to retry, until the pair is free', async () => {
    const pair = suite.pairs[1]!;
    const first = await watch(pair, suite.stream.url);
    await eventually(async () => assert.equal(first.hellos.length, 1), 3000);
    const second = await watch(pair, suite.stream.url);
    await eventually(async () => assert.ok(second.refusals.length >= 2), 8000, 50);
    assert.equal(second.hellos.length, 0, 'no second live stream');
    assert.ok(second.refusals.every((refusal) => refusal.code === 'PROFILE_IN_USE'));
    assert.ok(second.refusals.every((refusal) => refusal.retryMs >= 2000 && refusal.retryMs <= 3000));
    assert.equal(second.deadEnded, false, 'the refused client retries; it is not failed for good');
    await expectGauges(suite.stream.url, 1);
    first.close();
    await eventually(async () => assert.equal(second.hellos.length, 1), 5000, 20);
    second.close();
    await gaugesSettle(suite.stream.url, 0);
  });

  it('never dead-ends in quick close/reopen cycles', async () => {
    const pair = suite.pairs[2]!;
    const cycles = 20;
    let refused = 0;
    for (let i = 0; i < cycles; i++) {
      const client = await watch(pair, suite.stream.url);
      await eventually(async () => assert.equal(client.hellos.length, 1), 8000, 5);
      refused += client.refusals.length;
      assert.equal(client.deadEnded, false);
      client.close();
    }
    await gaugesSettle(suite.stream.url, 0);
    assert.ok(refused <= cycles, `${refused} refusals in ${cycles} cycles, each retried`);
  });
});
