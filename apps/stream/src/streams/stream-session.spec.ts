import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { loadConfig } from '@app/config';
import type { HeldLock } from '@app/lock';
import { MessageFramer, PayloadPool } from '../sse/index.js';
import type { StreamMetrics } from './stream-metrics.js';
import { StreamSession } from './stream-session.js';

/** A response whose socket takes everything; it keeps what was written as text. */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  text = '';
  socket = null;
  write(chunk: Buffer): boolean {
    this.text += chunk.toString('latin1');
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

const counter = () => ({ inc: () => undefined });
const metrics = {
  eventsSent: counter(),
  eventsDropped: counter(),
  bytesSent: counter(),
  lockLost: counter(),
} as unknown as StreamMetrics;

const lock: HeldLock = {
  resource: 'r',
  fencingToken: 1,
  since: new Date(0),
  lostReason: undefined,
  isValid: () => true,
  onLost: () => () => undefined,
  release: async () => undefined,
};

/**
 * Fake timers with a fake monotonic clock that advance together (Node's timers are monotonic),
 * and a wall clock (`Date.now`) that moves with them but can also be stepped alone.
 */
function clocks(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let monotonic = 10_000;
  let wall = 1_700_000_000_000;
  t.mock.method(performance, 'now', () => monotonic);
  t.mock.method(Date, 'now', () => wall);
  return {
    advance(ms: number) {
      for (let i = 0; i < ms; i += 10) {
        monotonic += 10;
        wall += 10;
        t.mock.timers.tick(10);
      }
    },
    stepWallClock(ms: number) {
      wall += ms;
    },
  };
}

function session(startSeq = 0) {
  const response = new FakeResponse();
  const settings = loadConfig('stream', {
    AUTH_MODE: 'open',
    STREAM_EVENTS_PER_SECOND: '4',
    STREAM_EVENT_BYTES: '64',
  }).stream;
  const sut = new StreamSession({
    userId: 'u',
    profileId: 'p',
    pod: 'pod-a',
    response: response as unknown as ServerResponse,
    lock,
    framer: new MessageFramer('pod-a', new PayloadPool(64, 2)),
    settings,
    lockTtlMs: 15_000,
    metrics,
    startSeq,
    onClosed: () => undefined,
  });
  const events = () =>
    [...response.text.matchAll(/"seq":(\d+),"timestamp":(\d+)/g)].map((m) => ({
      seq: Number(m[1]),
      timestamp: Number(m[2]),
    }));
  return { sut, events };
}

describe(StreamSession.name, () => {
  it('keeps sending its events on schedule when the wall clock steps back 60 s', (t) => {
    const clock = clocks(t);
    const { sut, events } = session();
    sut.start();
    clock.advance(2000);
    assert.equal(events().length, 8);
    clock.stepWallClock(-60_000);
    clock.advance(2000);
    assert.deepEqual(
      events().map((e) => e.seq),
      Array.from({ length: 16 }, (_, i) => i + 1),
      'no event lost, none doubled, none late',
    );
    void sut.close('client');
  });

  it('stamps each event with the wall clock, steps included', (t) => {
    const clock = clocks(t);
    const { sut, events } = session();
    sut.start();
    clock.advance(1000);
    const before = events().at(-1)!.timestamp;
    clock.stepWallClock(-60_000);
    clock.advance(250);
    assert.ok(events().at(-1)!.timestamp < before - 59_000);
    void sut.close('client');
  });

  it('continues the sequence after the seq it resumes from, and remembers where it stands', (t) => {
    const clock = clocks(t);
    const { sut, events } = session(41);
    sut.start();
    assert.equal(sut.anchor().seq, 41);
    clock.advance(1000);
    assert.deepEqual(
      events().map((e) => e.seq),
      [42, 43, 44, 45],
    );
    assert.deepEqual(sut.anchor(), { seq: 45, timestamp: events().at(-1)!.timestamp, periodMs: 250 });
    void sut.close('client');
  });
});
