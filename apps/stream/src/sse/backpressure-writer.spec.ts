import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BackpressureWriter,
  type DeliveryListener,
  EMPTY_QUEUE_PROBE,
  type Frame,
  flushSoon,
  type SseSink,
} from './backpressure-writer.js';

/**
 * A socket whose kernel holds at most `kernelCapacity` unsent bytes (TCP_NOTSENT_LOWAT) and takes
 * from Node whatever fits; what it does not take stays in Node (`writableLength`). The reader
 * empties the kernel's queue with `read`, or reads everything as it comes once `stalled = false`.
 */
class FakeSocket implements SseSink {
  writableLength = 0;
  destroyed = false;
  writes = 0;
  corks = 0;
  kernelQueued = 0;
  private corked = false;
  private readsAll: boolean;

  constructor(private readonly kernelCapacity = Number.POSITIVE_INFINITY) {
    this.readsAll = kernelCapacity === Number.POSITIVE_INFINITY;
  }

  write(chunk: Buffer): boolean {
    this.writes++;
    this.writableLength += chunk.length;
    if (!this.corked) this.toKernel();
    return this.writableLength < 16_384;
  }

  cork(): void {
    this.corks++;
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    this.toKernel();
  }

  /** The reader read `bytes` out of the kernel's queue. */
  read(bytes: number): void {
    this.kernelQueued -= Math.min(bytes, this.kernelQueued);
    this.toKernel();
  }

  /** The reader stops reading, or reads everything from now on. */
  set stalled(stalled: boolean) {
    this.readsAll = !stalled;
    this.toKernel();
  }

  private toKernel(): void {
    if (this.readsAll) {
      this.writableLength = 0;
      this.kernelQueued = 0;
      return;
    }
    const taken = Math.min(this.writableLength, Math.max(0, this.kernelCapacity - this.kernelQueued));
    this.writableLength -= taken;
    this.kernelQueued += taken;
  }
}

class Recorder implements DeliveryListener {
  readonly sentSeqs: number[] = [];
  readonly drops: [number, string][] = [];
  readonly behindChanges: boolean[] = [];
  probedBytes = 0;
  behindChanged(behind: boolean): void {
    this.behindChanges.push(behind);
  }
  probed(bytes: number): void {
    this.probedBytes += bytes;
  }
  sent(frame: Frame): void {
    this.sentSeqs.push(frame.seq);
  }
  dropped(frame: Frame, reason: string): void {
    this.drops.push([frame.seq, reason]);
  }
  get droppedSeqs(): number[] {
    return this.drops.map(([seq]) => seq);
  }
}

const frame = (seq: number, dueAt: number, bytes = 65_536): Frame => ({
  seq,
  dueAt,
  chunks: [Buffer.alloc(10), Buffer.alloc(bytes - 10)],
  bytes,
});

const LIMITS = { maxLagMs: 1000, maxBufferBytes: 1024 * 1024, probeWhenBehind: true };
const PERIOD = 250;

function setup(socket = new FakeSocket(), limits = LIMITS) {
  const recorder = new Recorder();
  return { socket, recorder, sut: new BackpressureWriter(socket, limits, recorder) };
}

describe(BackpressureWriter.name, () => {
  it('hands every event to a socket that keeps up at once, in order, dropping none', () => {
    const { sut, recorder } = setup();
    for (let seq = 1; seq <= 20; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    assert.deepEqual(
      recorder.sentSeqs,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(sut.droppedEvents, 0);
    assert.equal(sut.waitingEvents, 0);
  });

  it('keeps events waiting in order while the socket is busy for less than maxLagMs, and loses none', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 4; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    assert.deepEqual(recorder.sentSeqs, [1], 'the first went to the socket, the others wait');
    assert.equal(sut.waitingEvents, 3);
    socket.stalled = false;
    sut.flush(4 * PERIOD + 100);
    assert.deepEqual(recorder.sentSeqs, [1, 2]);
    sut.flush(4 * PERIOD + 110);
    sut.flush(4 * PERIOD + 120);
    assert.deepEqual(recorder.sentSeqs, [1, 2, 3, 4]);
    assert.equal(sut.droppedEvents, 0);
  });

  it('drops an event that cannot leave the process within maxLagMs of its due time, and counts it', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    sut.offer(frame(1, 0), 0);
    sut.offer(frame(2, 250), 250);
    socket.stalled = false;
    sut.flush(1251);
    assert.deepEqual(recorder.drops, [[2, 'lag']]);
    assert.equal(sut.droppedEvents, 1);
    assert.deepEqual(recorder.sentSeqs, [1]);
  });

  it('keeps only the newest due event waiting once the socket had to drop, so it gets fresh ones', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    let now = 0;
    // A stalled reader: everything but the first event waits, then is too late.
    for (let seq = 1; seq <= 12; seq++) sut.offer(frame(seq, (now = seq * PERIOD)), now);
    assert.ok(sut.isBehind);
    assert.equal(sut.waitingEvents, 1, 'only the newest waits');
    socket.stalled = false;
    sut.flush(now + 10);
    assert.deepEqual(recorder.sentSeqs, [1, 12], 'on resuming it gets the newest event, not a backlog');
    assert.deepEqual(
      [...recorder.droppedSeqs].sort((a, b) => a - b),
      Array.from({ length: 10 }, (_, i) => i + 2),
    );
  });

  it('hands a reader at half the rate the newest event each time it has room, never one older than a period', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(128 * 1024));
    const ages: number[] = [];
    let now = 0;
    const record = recorder.sent.bind(recorder);
    recorder.sent = (f: Frame) => {
      ages.push(now - f.dueAt);
      record(f);
    };
    // 64 KiB events every 250 ms; the reader takes 16 KiB every 125 ms: half the stream's rate.
    for (let tick = 1; tick <= 800; tick++) {
      now = tick * 125;
      socket.read(16_384);
      if (tick % 2 === 0) sut.offer(frame(tick / 2, now), now);
      else sut.flush(now);
    }
    const settled = ages.slice(10);
    assert.ok(Math.max(...settled) <= PERIOD, `ages ${settled.join(' ')}`);
    assert.ok(sut.isBehind);
    assert.ok(recorder.sentSeqs.length >= 190 && recorder.sentSeqs.length <= 210, `${recorder.sentSeqs.length} sent`);
    assert.equal(recorder.sentSeqs.length + sut.droppedEvents + sut.waitingEvents, 400);
  });

  it('keeps every event again once the socket is ready for events as they fall due', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 8; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    assert.ok(sut.isBehind);
    socket.stalled = false;
    sut.flush(8 * PERIOD);
    for (let seq = 9; seq <= 12; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    assert.equal(sut.isBehind, false);
    socket.stalled = true;
    const dropsBefore = sut.droppedEvents;
    // A short stutter now costs nothing again: events wait in order.
    for (let seq = 13; seq <= 15; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    socket.stalled = false;
    for (let i = 0; i < 3; i++) sut.flush(15 * PERIOD + i);
    assert.equal(sut.droppedEvents, dropsBefore);
    assert.deepEqual(recorder.sentSeqs.slice(-4), [12, 13, 14, 15]);
  });

  it('writes no probe when the socket keeps its kernel queue (TCP_NOTSENT_LOWAT not set)', () => {
    const { sut, socket } = setup(new FakeSocket(0), { ...LIMITS, probeWhenBehind: false });
    for (let seq = 1; seq <= 8; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    socket.stalled = false;
    sut.flush(8 * PERIOD + 1);
    assert.equal(sut.probeBytes, 0);
  });

  it('tells the listener once when the socket falls behind and once when it catches up', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 8; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    socket.stalled = false;
    for (let seq = 9; seq <= 12; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    assert.deepEqual(recorder.behindChanges, [true, false]);
  });

  it('drops an event already too late when offered without counting the socket behind (the process was late)', () => {
    const { sut, recorder } = setup();
    // A loop that ran late offers a burst of events at once; the oldest are past maxLagMs.
    const now = 5000;
    for (let seq = 1; seq <= 10; seq++) sut.offer(frame(seq, now - 1550 + seq * 100), now);
    assert.deepEqual(recorder.droppedSeqs, [1, 2, 3, 4, 5]);
    assert.deepEqual(recorder.drops.map(([, reason]) => reason), ['lag', 'lag', 'lag', 'lag', 'lag']);
    assert.deepEqual(recorder.sentSeqs, [6, 7, 8, 9, 10]);
    assert.equal(sut.isBehind, false);
    assert.deepEqual(recorder.behindChanges, []);
  });

  it('writes an empty-queue probe after each event handed to a socket that is behind, and reports its bytes', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 8; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    const writesBefore = socket.writes;
    socket.stalled = false;
    sut.flush(8 * PERIOD + 1);
    assert.equal(socket.writes - writesBefore, 3, 'the two chunks of the newest event, then the probe');
    assert.equal(recorder.probedBytes, EMPTY_QUEUE_PROBE.length);
    assert.equal(sut.probeBytes, EMPTY_QUEUE_PROBE.length);
    assert.match(EMPTY_QUEUE_PROBE.toString(), /^:\n$/, 'an SSE comment line, ignored by clients');
  });

  it('never holds more than maxBufferBytes for a socket: the oldest waiting events go first', () => {
    const { sut, recorder } = setup(new FakeSocket(0), { ...LIMITS, maxLagMs: 60_000, maxBufferBytes: 256 * 1024 });
    for (let seq = 1; seq <= 10; seq++) sut.offer(frame(seq, seq), seq);
    // One 64 KiB frame sits in the socket; three more wait: 4 × 64 KiB = the limit.
    assert.deepEqual(recorder.sentSeqs, [1]);
    assert.deepEqual(recorder.drops[0], [2, 'buffer']);
    assert.equal(sut.waitingEvents, 1, 'once behind, only the newest waits');
  });

  it('writes an event larger than maxBufferBytes to a socket that holds nothing', () => {
    const { sut, recorder } = setup(new FakeSocket(), { ...LIMITS, maxBufferBytes: 1024 });
    sut.offer(frame(1, 0, 4096), 0);
    assert.deepEqual(recorder.sentSeqs, [1]);
    assert.equal(sut.droppedEvents, 0);
  });

  it('hands several waiting small events over in one corked write of at most 64 KiB', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0), { ...LIMITS, maxLagMs: 60_000 });
    for (let seq = 1; seq <= 100; seq++) sut.offer(frame(seq, seq, 1024), seq);
    const corksBefore = socket.corks;
    socket.stalled = false;
    sut.flush(101);
    assert.equal(socket.corks, corksBefore + 1);
    assert.deepEqual(recorder.sentSeqs.length, 1 + 64, 'the first, then one batch of 64 × 1 KiB');
    sut.flush(102);
    assert.equal(recorder.sentSeqs.length, 100);
  });

  it('writes the events held in one turn in one corked write, and counts them as found ready', () => {
    const { sut, socket, recorder } = setup();
    // A late timer run: five events fell due at once.
    for (let seq = 1; seq <= 5; seq++) assert.equal(sut.hold(frame(seq, 1000 + seq, 64), 1010), true);
    assert.deepEqual(recorder.sentSeqs, [], 'held until the flush');
    sut.flush(1010);
    assert.equal(socket.corks, 1);
    assert.deepEqual(recorder.sentSeqs, [1, 2, 3, 4, 5]);
    assert.equal(sut.isBehind, false);
  });

  it('keeps only the newest held event of a socket that is behind, and lets it catch up when the held ones find it ready', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 8; seq++) sut.offer(frame(seq, seq * PERIOD, 64), seq * PERIOD);
    assert.ok(sut.isBehind);
    const sentBefore = recorder.sentSeqs.length;
    // Still busy: of the events held meanwhile only the newest waits.
    for (let seq = 9; seq <= 11; seq++) sut.hold(frame(seq, 2000 + seq, 64), 2020);
    sut.flush(2020);
    assert.equal(sut.waitingEvents, 1);
    assert.deepEqual(recorder.drops.slice(-3), [
      [8, 'replaced'],
      [9, 'replaced'],
      [10, 'replaced'],
    ]);
    socket.stalled = false;
    sut.flush(2030);
    assert.deepEqual(recorder.sentSeqs.slice(sentBefore), [11]);
    // Ready for two held events in a row: caught up.
    for (let seq = 12; seq <= 13; seq++) sut.hold(frame(seq, 2040 + seq, 64), 2060);
    sut.flush(2060);
    assert.equal(sut.isBehind, false);
    assert.deepEqual(recorder.sentSeqs.slice(-2), [12, 13]);
  });

  it('flushes every writer that held events once, after the current callback (flushSoon)', async () => {
    const a = setup();
    const b = setup();
    for (let seq = 1; seq <= 3; seq++) {
      a.sut.hold(frame(seq, 1000, 64), 1000);
      flushSoon(a.sut);
      b.sut.hold(frame(seq, 1000, 64), 1000);
      flushSoon(b.sut);
    }
    assert.deepEqual(a.recorder.sentSeqs, []);
    await Promise.resolve();
    assert.deepEqual(a.recorder.sentSeqs, [1, 2, 3]);
    assert.deepEqual(b.recorder.sentSeqs, [1, 2, 3]);
    assert.equal(a.socket.corks + b.socket.corks, 2, 'one write each');
  });

  it('reports how long the socket has been busy with events waiting, and resets when it takes one', () => {
    const { sut, socket } = setup(new FakeSocket(0));
    sut.offer(frame(1, 0), 0);
    assert.equal(sut.stalledFor(100), 0, 'nothing waits yet');
    sut.offer(frame(2, 250), 250);
    sut.offer(frame(3, 500), 500);
    assert.equal(sut.stalledFor(1250), 1000);
    socket.stalled = false;
    sut.flush(1300);
    assert.equal(sut.stalledFor(5000), 0);
  });

  it('counts the events still waiting when the stream ends as dropped', () => {
    const { sut, recorder } = setup(new FakeSocket(0));
    for (let seq = 1; seq <= 3; seq++) sut.offer(frame(seq, seq * PERIOD), seq * PERIOD);
    const behindChanges = recorder.behindChanges.length;
    sut.discardWaiting();
    assert.equal(recorder.behindChanges.length, behindChanges, 'a stream that ends does not fall behind');
    assert.deepEqual(recorder.drops, [
      [2, 'closed'],
      [3, 'closed'],
    ]);
    assert.equal(sut.waitingEvents, 0);
  });

  it('never drops a lossless event on its own: a newer event leaves it waiting, in order', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    sut.offer(frame(1, 0), 0);
    sut.offer(frame(2, 250), 250);
    socket.stalled = false;
    sut.flush(1251); // 2 is too late: dropped, the socket is behind now
    socket.stalled = true;
    sut.offer({ ...frame(3, 1300, 100), lossless: true }, 1300);
    sut.offer(frame(4, 1500, 100), 1500);
    sut.offer(frame(5, 1750, 100), 1750);
    assert.deepEqual(recorder.droppedSeqs, [2, 4], '4 was replaced by 5; the lossless 3 stays');
    socket.stalled = false;
    sut.flush(1800);
    sut.flush(1810);
    sut.flush(1820);
    assert.deepEqual(recorder.sentSeqs, [1, 3, 5]);
  });

  it('asks for a resume instead of dropping a lossless event that is too late, and writes no event after it', () => {
    const overruns: number[] = [];
    const recorder = new Recorder();
    const socket = new FakeSocket(0);
    const sut = new BackpressureWriter(
      socket,
      LIMITS,
      Object.assign(recorder, { overrun: (f: Frame) => overruns.push(f.seq) }),
    );
    sut.offer(frame(1, 0), 0);
    sut.offer({ ...frame(2, 250), lossless: true }, 250);
    socket.stalled = false;
    sut.flush(1251);
    assert.deepEqual(overruns, [2]);
    assert.deepEqual(recorder.drops, [], 'not counted as a drop: the client gets it again from the history');
    sut.offer(frame(3, 1300), 1300);
    assert.deepEqual(recorder.sentSeqs, [1], 'nothing is written once a lossless event was lost');
    const writes = socket.writes;
    sut.writeControl(Buffer.from('event: reconnect\n\n'));
    assert.equal(socket.writes, writes + 1, 'the closing event still goes out');
  });

  it('does not count lossless events still waiting at the end as dropped', () => {
    const { sut, recorder } = setup(new FakeSocket(0));
    sut.offer(frame(1, 0), 0);
    sut.offer({ ...frame(2, 250), lossless: true }, 250);
    sut.offer(frame(3, 500), 500);
    sut.discardWaiting();
    assert.deepEqual(recorder.drops, [[3, 'closed']]);
  });

  it('hands over what fell due while a write was in flight as soon as the socket took it, without waiting for the next event', () => {
    // Node counts a write in writableLength until its callback; `drain` only follows a write over the high-water mark.
    const pending: (() => void)[] = [];
    const sink: SseSink & { writableLength: number } = {
      writableLength: 0,
      destroyed: false,
      write(chunk: Buffer, callback?: () => void) {
        this.writableLength += chunk.length;
        if (callback) pending.push(callback);
        return true;
      },
      cork() {},
      uncork() {},
    };
    const recorder = new Recorder();
    const sut = new BackpressureWriter(sink, LIMITS, recorder);
    // Due now on the writer's own clock: its write callback flushes at performance.now().
    const now = performance.now();
    for (let seq = 1; seq <= 3; seq++) sut.offer(frame(seq, now, 100), now);
    assert.deepEqual(recorder.sentSeqs, [1], 'the others wait while the first write is in flight');
    sink.writableLength = 0;
    pending.shift()!();
    assert.deepEqual(recorder.sentSeqs, [1, 2, 3], 'written when the socket took the first, in one batch');
    // The same after a control frame (the `hello` before a history replay, a heartbeat).
    sut.writeControl(Buffer.from(': heartbeat\n\n'));
    sut.offer(frame(4, now, 100), now);
    assert.deepEqual(recorder.sentSeqs, [1, 2, 3]);
    sink.writableLength = 0;
    while (pending.length > 0) pending.shift()!();
    assert.deepEqual(recorder.sentSeqs, [1, 2, 3, 4]);
  });

  it('tells how late the oldest waiting event is', () => {
    const { sut } = setup(new FakeSocket(0));
    sut.offer(frame(1, 0), 0);
    assert.equal(sut.lagMs(100), 0);
    sut.offer(frame(2, 250), 250);
    assert.equal(sut.lagMs(600), 350);
  });

  it('accounts for every due event exactly once: sent, dropped or still waiting', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(128 * 1024));
    let state = 7;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let seq = 1; seq <= 2000; seq++) {
      const now = seq * PERIOD;
      socket.read(Math.floor(random() * 2 * 65_536));
      sut.offer(frame(seq, now), now);
      if (random() < 0.5) sut.flush(now + 50);
    }
    const seen = [...recorder.sentSeqs, ...recorder.droppedSeqs].sort((a, b) => a - b);
    assert.equal(seen.length + sut.waitingEvents, 2000);
    assert.equal(new Set(seen).size, seen.length, 'no event counted twice');
    assert.deepEqual(
      recorder.sentSeqs,
      [...recorder.sentSeqs].sort((a, b) => a - b),
      'sent in order',
    );
    assert.ok(sut.droppedEvents > 0 && recorder.sentSeqs.length > 0);
  });

  it('always writes control frames, and nothing once the socket is destroyed', () => {
    const { sut, socket, recorder } = setup(new FakeSocket(0));
    socket.writableLength = 10_000_000;
    sut.writeControl(Buffer.from('event: lock-lost\n\n'));
    assert.equal(socket.writes, 1);
    socket.destroyed = true;
    sut.writeControl(Buffer.from('x'));
    sut.offer(frame(1, 0), 0);
    sut.flush(10);
    assert.equal(socket.writes, 1);
    assert.deepEqual(recorder.sentSeqs, []);
  });
});
