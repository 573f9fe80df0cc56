import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { HistoryRead, PublishedEvent } from '@app/events';
import type { ResumePoint } from '../streams/event-id.js';
import type { ChannelListener, PairChannels } from './pair-channels.js';
import { PublishedSource } from './published-source.js';
import type { SourceEvent, SourceTarget } from './stream-source.js';

const event = (id: string, data = `"${id}"`): PublishedEvent => ({ id, event: 'e', data });

/** Channels that hand the test the listener, and a Redis whose history the test writes. */
function world(history: Partial<HistoryRead> & { last?: string } = {}, live = true) {
  let listener: ChannelListener | undefined;
  let unsubscribed = 0;
  const channels = {
    subscribe: async (_u: string, _p: string, l: ChannelListener) => {
      listener = l;
      return { unsubscribe: () => unsubscribed++, live };
    },
  } as unknown as PairChannels;
  const reads: string[] = [];
  const redis = {
    xrevrange: async () => (history.last ? [[history.last, []]] : []),
    multi: () => {
      const chain = {
        exists: () => chain,
        get: () => chain,
        xrange: (_key: string, from: string) => {
          reads.push(from);
          return chain;
        },
        exec: async () => [
          [null, 1],
          [null, history.lost ? (history.resumeAt ?? null) : null],
          [null, (history.events ?? []).map((e) => [e.id, ['e', e.event, 'd', e.data]])],
        ],
      };
      return chain;
    },
  } as unknown as Redis;
  const sut = new PublishedSource(redis, channels, { maxEvents: 100, maxAgeMs: 60_000 });
  const emitted: SourceEvent[] = [];
  const target = (resume?: ResumePoint): SourceTarget => ({
    userId: 'u',
    profileId: 'p',
    resume,
    emit: (e) => emitted.push(e),
    fail: () => assert.fail('the feed failed'),
  });
  const texts = () => emitted.map((e) => `${e.event ?? 'message'} ${e.entry} ${Buffer.concat(e.data).toString()}`);
  return { sut, target, emitted, texts, reads, channel: () => listener!, unsubscribed: () => unsubscribed };
}

describe(PublishedSource.name, () => {
  it('starts a new client at the newest entry and delivers only what comes after it, once, in order', async () => {
    const w = world({ last: '5-0' });
    const feed = await w.sut.open(w.target());
    assert.deepEqual(feed.startsAt, { entry: '5-0' });
    w.channel().message({ kind: 'event', event: event('6-0') });
    assert.equal(w.emitted.length, 0, 'nothing before the stream started');
    feed.start();
    w.channel().message({ kind: 'event', event: event('5-0') });
    w.channel().message({ kind: 'event', event: event('6-0') });
    w.channel().message({ kind: 'event', event: event('7-0') });
    assert.deepEqual(w.texts(), ['e 6-0 "6-0"', 'e 7-0 "7-0"']);
    assert.ok(w.emitted.every((e) => e.lossless));
    feed.close();
    w.channel().message({ kind: 'event', event: event('8-0') });
    assert.equal(w.emitted.length, 2, 'nothing after close');
    assert.equal(w.unsubscribed(), 1);
  });

  it('replays the history after the client’s entry, then live events, skipping what the history already gave', async () => {
    const w = world({ events: [event('2-0'), event('3-0')] });
    const feed = await w.sut.open(w.target({ seq: 4, entry: '1-0', session: '0123456789abcdef' }));
    assert.deepEqual(w.reads, ['(1-0']);
    w.channel().message({ kind: 'event', event: event('3-0') });
    w.channel().message({ kind: 'event', event: event('4-0') });
    feed.start();
    assert.deepEqual(w.texts(), ['e 2-0 "2-0"', 'e 3-0 "3-0"', 'e 4-0 "4-0"']);
  });

  it('says events-lost first when the history no longer covers the client’s entry, then what it has', async () => {
    const w = world({ lost: true, resumeAt: '4-0', events: [event('5-0')] });
    const feed = await w.sut.open(w.target({ seq: 0, entry: '1-0', session: '0123456789abcdef' }));
    feed.start();
    const [lost, next] = w.emitted as [SourceEvent, SourceEvent];
    assert.equal(lost.event, 'events-lost');
    assert.equal(lost.entry, '4-0');
    assert.deepEqual(JSON.parse(Buffer.concat(lost.data).toString()), {
      after: '1-0',
      resumeAt: '4-0',
      reason: 'outside-history',
    });
    assert.equal(next.entry, '5-0');
  });

  it('never refuses a stream when Redis cannot be asked: it starts detached and catches up once the channel holds', async () => {
    const w = world({ events: [event('9999999999999-0')] }, false);
    const before = Date.now();
    const feed = await w.sut.open(w.target());
    const [ms] = feed.startsAt.entry!.split('-');
    assert.ok(Number(ms) >= before, 'a new client starts at this pod’s clock');
    assert.deepEqual(w.reads, [], 'nothing read while Redis cannot answer');
    feed.start();
    w.channel().message({ kind: 'event', event: event('9999999999999-1') });
    assert.equal(w.emitted.length, 0, 'nothing delivered before the catch-up');
    w.channel().reconnected!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(w.reads, [`(${feed.startsAt.entry}`]);
    assert.deepEqual(
      w.emitted.map((e) => e.entry),
      ['9999999999999-0', '9999999999999-1'],
    );
  });

  it('catches up from the history after the channel came back, before what the channel brings next', async () => {
    const w = world({ last: '1-0' });
    const feed = await w.sut.open(w.target());
    feed.start();
    w.channel().message({ kind: 'event', event: event('2-0') });
    const history = world({ events: [event('3-0'), event('4-0')] });
    // The history read after the reconnect: swap in a Redis that now holds 3 and 4.
    Object.assign(w.sut, { redis: (history.sut as unknown as { redis: Redis }).redis });
    w.channel().reconnected!();
    w.channel().message({ kind: 'event', event: event('5-0') });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      w.emitted.map((e) => e.entry),
      ['2-0', '3-0', '4-0', '5-0'],
    );
    assert.deepEqual(history.reads, ['(2-0']);
  });
});
