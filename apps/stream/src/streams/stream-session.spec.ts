import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { loadConfig } from '@app/config';
import type { HeldLock } from '@app/lock';
import { GeneratorSource } from '../sources/generator-source.js';
import type { StreamMetrics } from './stream-metrics.js';
import type { StreamOutput } from './stream-output.js';
import { type CloseReason, StreamSession } from './stream-session.js';

/**
 * A response whose socket takes everything (or, with `writableLength` set, holds bytes back as a
 * reader that stopped reading makes it); it keeps what was written as text. Like Node's, it emits
 * `close` once when destroyed.
 */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  ended = 0;
  text = '';
  socket = null;
  write(chunk: Buffer): boolean {
    if (this.destroyed) throw new Error('write after destroy');
    this.text += chunk.toString('latin1');
    return this.writableLength === 0;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {
    this.ended++;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/** A held lock that counts its releases and is lost when the test says so. */
class FakeLock implements HeldLock {
  readonly resource = 'r';
  readonly fencingToken = 1;
  readonly since = new Date(0);
  lostReason: string | undefined;
  releases = 0;
  valid = true;
  private readonly listeners: ((reason: string) => void)[] = [];
  isValid(): boolean {
    return this.valid;
  }
  onLost(listener: (reason: string) => void): () => void {
    this.listeners.push(listener);
    return () => undefined;
  }
  async release(): Promise<void> {
    this.releases++;
  }
  /** The renew loop lost the lock: its listeners hear it. */
  lose(reason = 'renewal refused'): void {
    this.lostReason = reason;
    this.valid = false;
    for (const listener of this.listeners) listener(reason);
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
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
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

/** Lets the writers flush the events the last timer run held (a microtask after it). */
const flushed = () => Promise.resolve();

function session(startSeq = 0, heldLock: HeldLock = lock) {
  const response = new FakeResponse();
  const closedCalls: StreamSession[] = [];
  const settings = loadConfig('stream', {
    AUTH_MODE: 'open',
    STREAM_EVENTS_PER_SECOND: '4',
    STREAM_EVENT_BYTES: '64',
  }).stream;
  const sut = new StreamSession({
    userId: 'u',
    profileId: 'p',
    pod: 'pod-a',
    lock: heldLock,
    settings,
    lockTtlMs: 15_000,
    metrics,
    session: '0123456789abcdef',
    resume: startSeq === 0 ? undefined : { seq: startSeq },
    onClosed: (closed) => closedCalls.push(closed),
  });
  const generator = new GeneratorSource(settings, 'pod-a', async () => undefined);
  const start = () =>
    sut.start({ output: response as unknown as StreamOutput, socket: null, detached: false }, [
      generator.feed(sut, startSeq),
    ]);
  const events = () =>
    [...response.text.matchAll(/"seq":(\d+),"timestamp":(\d+)/g)].map((m) => ({
      seq: Number(m[1]),
      timestamp: Number(m[2]),
    }));
  /** The closing events (`lock-lost`, `reconnect`) written, in order. */
  const closingEvents = () => [...response.text.matchAll(/^event: (lock-lost|reconnect)$/gm)].map((m) => m[1]);
  return { sut, start, events, response, closedCalls, closingEvents };
}

/** Starts a session with a fake lock, past its first events. */
function liveSession(t: TestContext) {
  const clock = clocks(t);
  const fakeLock = new FakeLock();
  const parts = session(0, fakeLock);
  parts.start();
  clock.advance(1000);
  return { ...parts, clock, fakeLock };
}

/** Each way a session ends, caused the way it happens in production. */
const ENDINGS: { reason: CloseReason; cause: string; end: (s: ReturnType<typeof liveSession>) => void }[] = [
  { reason: 'client', cause: 'the client leaves', end: (s) => s.response.emit('close') },
  { reason: 'error', cause: 'the response fails to write', end: (s) => s.response.emit('error', new Error('EPIPE')) },
  { reason: 'lock-lost', cause: 'the lock reports its loss', end: (s) => s.fakeLock.lose() },
  {
    reason: 'lock-lost',
    cause: 'a tick finds the lock no longer valid',
    end: (s) => {
      s.fakeLock.valid = false;
      s.clock.advance(250);
    },
  },
  { reason: 'shutdown', cause: 'the pod shuts down', end: (s) => void s.sut.close('shutdown') },
  {
    reason: 'stalled',
    cause: 'the reader stops reading for longer than the stall timeout',
    end: (s) => {
      s.response.writableLength = 1;
      s.clock.advance(30_000 + 500);
    },
  },
];

describe(StreamSession.name, () => {
  it('keeps sending its events on schedule when the wall clock steps back 60 s', async (t) => {
    const clock = clocks(t);
    const { sut, start, events } = session();
    start();
    clock.advance(2000);
    await flushed();
    assert.equal(events().length, 8);
    clock.stepWallClock(-60_000);
    clock.advance(2000);
    await flushed();
    assert.deepEqual(
      events().map((e) => e.seq),
      Array.from({ length: 16 }, (_, i) => i + 1),
      'no event lost, none doubled, none late',
    );
    void sut.close('client');
  });

  it('stamps each event with the wall clock, steps included', async (t) => {
    const clock = clocks(t);
    const { sut, start, events } = session();
    start();
    clock.advance(1000);
    await flushed();
    const before = events().at(-1)!.timestamp;
    clock.stepWallClock(-60_000);
    clock.advance(250);
    await flushed();
    assert.ok(events().at(-1)!.timestamp < before - 59_000);
    void sut.close('client');
  });

  it('continues the sequence after the seq it resumes from, and remembers where it stands', async (t) => {
    const clock = clocks(t);
    const { sut, start, events } = session(41);
    start();
    assert.equal(sut.anchor().seq, 41);
    clock.advance(1000);
    await flushed();
    assert.deepEqual(
      events().map((e) => e.seq),
      [42, 43, 44, 45],
    );
    assert.deepEqual(sut.anchor(), { seq: 45, timestamp: events().at(-1)!.timestamp, periodMs: 250 });
    void sut.close('client');
  });

  for (const { reason, cause, end } of ENDINGS) {
    it(`closes, reports and releases the lock exactly once when ${cause}`, async (t) => {
      const s = liveSession(t);
      const sentBefore = s.events().length;
      end(s);
      await Promise.resolve();
      assert.deepEqual(s.closedCalls, [s.sut], 'onClosed once');
      assert.equal(s.fakeLock.releases, 1, 'released once');
      // Everything that could end it again, afterwards: no second report, release or closing frame.
      s.response.emit('close');
      s.response.emit('error', new Error('late'));
      s.fakeLock.lose('late');
      await s.sut.close('shutdown');
      s.clock.advance(10_000);
      assert.deepEqual(s.closedCalls, [s.sut]);
      assert.equal(s.fakeLock.releases, 1);
      assert.deepEqual(
        s.closingEvents(),
        reason === 'lock-lost' ? ['lock-lost'] : reason === 'shutdown' ? ['reconnect'] : [],
      );
      assert.ok(s.events().length <= sentBefore + 1, 'no event is sent after the end');
      assert.equal(s.response.destroyed, true, 'the socket is gone, at once or after the grace period');
      assert.ok(s.response.ended <= 1);
    });
  }

  it('ends a stream cleanly and destroys its socket only after the grace period', (t) => {
    const s = liveSession(t);
    void s.sut.close('shutdown');
    assert.equal(s.response.ended, 1);
    assert.equal(s.response.destroyed, false);
    s.clock.advance(4990);
    assert.equal(s.response.destroyed, false);
    s.clock.advance(10);
    assert.equal(s.response.destroyed, true);
  });

  for (const { cause, end } of ENDINGS.filter((e) => e.reason === 'stalled' || e.reason === 'error')) {
    it(`destroys the socket at once, without ending it cleanly, when ${cause}`, (t) => {
      const s = liveSession(t);
      end(s);
      assert.equal(s.response.ended, 0);
      assert.equal(s.response.destroyed, true);
    });
  }

  it('keeps the first reason when the lock is lost while the client leaves', async (t) => {
    const s = liveSession(t);
    s.fakeLock.lose();
    s.response.emit('close');
    await s.sut.close('client');
    assert.deepEqual(s.closedCalls, [s.sut]);
    assert.equal(s.fakeLock.releases, 1);
    assert.deepEqual(s.closingEvents(), ['lock-lost']);
  });

  it('keeps the first reason when the client leaves while the lock is lost', async (t) => {
    const s = liveSession(t);
    s.response.emit('close');
    s.fakeLock.lose();
    s.fakeLock.valid = false;
    s.clock.advance(500);
    await s.sut.close('lock-lost');
    assert.deepEqual(s.closedCalls, [s.sut]);
    assert.equal(s.fakeLock.releases, 1);
    assert.deepEqual(s.closingEvents(), []);
  });

  it('releases once when shutdown and a stall race in the same tick', async (t) => {
    const s = liveSession(t);
    s.response.writableLength = 1;
    s.clock.advance(30_000);
    const shutdown = s.sut.close('shutdown');
    s.clock.advance(1000);
    assert.equal(s.sut.close('stalled'), shutdown, 'every later close gets the first close');
    await shutdown;
    assert.deepEqual(s.closedCalls, [s.sut]);
    assert.equal(s.fakeLock.releases, 1);
    assert.deepEqual(s.closingEvents(), ['reconnect']);
  });
});
