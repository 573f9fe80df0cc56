/** The part of a socket (or `http.ServerResponse`) the writer needs. */
export interface SseSink {
  readonly writableLength: number;
  readonly destroyed: boolean;
  /** `callback` runs once the chunk has left the process (the kernel took it). */
  write(chunk: Buffer, callback?: () => void): boolean;
  cork(): void;
  uncork(): void;
}

/** One `message` event, framed, with the monotonic time it was due. */
export interface Frame {
  readonly seq: number;
  readonly dueAt: number;
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
  /**
   * Never dropped on its own: when it would be (too late, over the byte limit, or replaced), the
   * listener hears `overrun` instead, and the stream must end so that the client resumes it.
   */
  readonly lossless?: boolean;
}

export interface DropLimits {
  /** An event that cannot be handed to the socket this long after it was due is dropped. */
  readonly maxLagMs: number;
  /** Bytes the process may hold for one socket: unsent bytes in the socket plus waiting events. */
  readonly maxBufferBytes: number;
  /** Write `EMPTY_QUEUE_PROBE` after each event for a socket that is behind (its TCP_NOTSENT_LOWAT is then 1 byte). */
  readonly probeWhenBehind: boolean;
}

/** Why an event was dropped: too late, over the byte limit, replaced by a newer one, or still waiting when the stream ended. */
export type DropReason = 'lag' | 'buffer' | 'replaced' | 'closed';

/** Told about every event the writer hands to the socket or drops, when it happens. */
export interface DeliveryListener {
  sent(frame: Frame): void;
  dropped(frame: Frame, reason: DropReason): void;
  /** The socket fell behind the stream, or caught up again (e.g. to change its socket options). */
  behindChanged?(behind: boolean): void;
  /** An empty-queue probe of `bytes` was written. */
  probed?(bytes: number): void;
  /** A lossless frame could not be delivered in time (it is discarded): end the stream so the client resumes. */
  overrun?(frame: Frame): void;
}

/**
 * Written after each event handed to a socket that is behind: an SSE comment line the client
 * ignores. With the socket's TCP_NOTSENT_LOWAT at 1 byte while it is behind, the kernel takes it
 * only once it has sent everything before it, so its `drain` says "the kernel queue is empty":
 * the next (newest) event is handed over then, and never waits behind an older one in the kernel.
 */
export const EMPTY_QUEUE_PROBE = Buffer.from(':\n', 'latin1');

/** Frames smaller than this are coalesced into one corked write (one syscall) while the socket keeps up. */
const BATCH_BYTES = 64 * 1024;
/** A socket that was behind keeps up again once this many events in a row found it ready when due. */
const CAUGHT_UP_AFTER = 2;

/**
 * Writes `message` events straight to the socket and DROPS (never queues without bound) those
 * that would reach the client too late.
 *
 * The socket counts as busy while Node still holds bytes of it (`writableLength > 0`): the kernel
 * took all it would. With the kernel's unsent queue capped (TCP_NOTSENT_LOWAT) that is what
 * "behind" means, so the process knows how far behind each socket is:
 * - while the socket is busy, due events wait here, in order, so a reader that stutters loses
 *   nothing;
 * - an event that cannot be handed to the socket within `maxLagMs` of its due time, or that
 *   would take the bytes held for the socket over `maxBufferBytes`, is dropped;
 * - once a socket has had to drop, it is slower than the stream: until it is ready for events as
 *   they fall due again (several in a row), only its newest due event waits (a newer one replaces
 *   it), so what it receives is as fresh as its bandwidth allows instead of an old backlog.
 *
 * A frame handed to the socket is never taken back (its bytes may be half written), so the
 * process holds at most one batch beyond what the kernel took, plus the waiting events.
 */
export class BackpressureWriter {
  sentEvents = 0;
  droppedEvents = 0;
  sentBytes = 0;
  /** Bytes of `EMPTY_QUEUE_PROBE` comments written (part of `sentBytes`). */
  probeBytes = 0;
  private readonly waiting: Frame[] = [];
  private waitingBytes = 0;
  private behind = false;
  private readyStreak = 0;
  /** Events `hold` added to `waiting` since the last `flush`. */
  private held = 0;
  private stalledSince: number | undefined;
  /** A lossless frame could not be delivered: nothing more is written (the stream is ending). */
  private overrun = false;

  constructor(
    private readonly sink: SseSink,
    private readonly limits: DropLimits,
    private readonly listener: DeliveryListener,
  ) {}

  /** Events waiting for the socket. */
  get waitingEvents(): number {
    return this.waiting.length;
  }

  /** True while the socket is slower than the stream: only the newest event waits. */
  get isBehind(): boolean {
    return this.behind;
  }

  /** Control frames (`retry`, `hello`, heartbeats, `lock-lost`, `reconnect`) are small and always written. */
  writeControl(frame: Buffer): void {
    if (this.sink.destroyed) return;
    this.sink.write(frame, this.written);
    this.sentBytes += frame.length;
  }

  /** A newly due event: written now if the socket keeps up, otherwise it waits or is dropped. */
  offer(frame: Frame, now: number): void {
    if (this.hold(frame, now)) this.flush(now);
  }

  /**
   * A newly due event, kept until the next `flush`: the events that fall due in one turn of the
   * event loop then leave in one write (one syscall) instead of one each (see `flushSoon`).
   * Returns whether a `flush` is needed.
   */
  hold(frame: Frame, now: number): boolean {
    if (this.sink.destroyed || this.overrun) return false;
    // Already too late when offered (the process, not the socket, was late): dropped at once,
    // and it says nothing about whether the socket keeps up.
    if (!frame.lossless && now - frame.dueAt > this.limits.maxLagMs) {
      this.droppedEvents++;
      this.listener.dropped(frame, 'lag');
      return false;
    }
    this.waiting.push(frame);
    this.waitingBytes += frame.bytes;
    this.held++;
    return true;
  }

  /**
   * The held events meet the socket: if it holds nothing and nothing older waits, it was ready
   * for them when they fell due (enough of those in a row and it has caught up); otherwise,
   * once it is behind, only the newest of them waits.
   */
  private meetHeld(): void {
    const held = this.held;
    this.held = 0;
    if (this.waiting.length === held && this.sink.writableLength === 0) {
      this.readyStreak += held;
      if (this.readyStreak >= CAUGHT_UP_AFTER) this.setBehind(false);
    } else {
      this.readyStreak = 0;
      if (this.behind) this.keepNewest();
    }
  }

  /**
   * Hands waiting events to the socket while it is not busy, dropping those too late or over the
   * byte limit. Call on every due tick and on the socket's `drain`.
   */
  flush(now: number): void {
    if (this.sink.destroyed || this.overrun) return;
    if (this.held > 0) this.meetHeld();
    this.dropLate(now);
    if (this.overrun) return;
    if (this.sink.writableLength > 0) {
      if (this.waiting.length > 0) this.stalledSince ??= now;
      return;
    }
    this.stalledSince = undefined;
    if (this.waiting.length === 0) return;
    // One corked write: the waiting events up to a batch (always at least one), oldest first.
    this.sink.cork();
    let batch = 0;
    const frames: Frame[] = [];
    while (this.waiting.length > 0 && (batch === 0 || batch + this.waiting[0]!.bytes <= BATCH_BYTES)) {
      const frame = this.waiting.shift()!;
      this.waitingBytes -= frame.bytes;
      frames.push(frame);
      batch += frame.bytes;
    }
    const probe = this.behind && this.limits.probeWhenBehind;
    // Indexed loops: no iterator, entry pair or closure per event.
    for (let index = 0; index < frames.length; index++) {
      const frame = frames[index]!;
      const { chunks } = frame;
      const end = !probe && index === frames.length - 1 ? chunks.length - 1 : -1;
      for (let i = 0; i < chunks.length; i++) {
        if (i === end) this.sink.write(chunks[i]!, this.written);
        else this.sink.write(chunks[i]!);
      }
      this.sentBytes += frame.bytes;
      this.sentEvents++;
      this.listener.sent(frame);
    }
    if (probe) {
      this.sink.write(EMPTY_QUEUE_PROBE, this.written);
      this.sentBytes += EMPTY_QUEUE_PROBE.length;
      this.probeBytes += EMPTY_QUEUE_PROBE.length;
      this.listener.probed?.(EMPTY_QUEUE_PROBE.length);
    }
    this.sink.uncork();
  }

  /**
   * The socket took the last batch (Node calls back once the kernel has it): events that fell due
   * meanwhile go now, not at the next event or tick — `drain` comes only after a write over
   * Node's high-water mark, so a burst of small events (a history replay) would otherwise wait.
   */
  private readonly written = (): void => {
    if (this.waiting.length > 0) this.flush(performance.now());
  };

  /**
   * How long the socket has been busy with events waiting for it (0 when it takes what is due).
   * A socket that takes nothing for long has a reader that stopped reading.
   */
  stalledFor(now: number): number {
    return this.stalledSince === undefined ? 0 : now - this.stalledSince;
  }

  /** How late the oldest waiting event already is, in ms (0 when none waits). */
  lagMs(now: number): number {
    const oldest = this.waiting[0];
    return oldest === undefined ? 0 : Math.max(0, now - oldest.dueAt);
  }

  private dropLate(now: number): void {
    while (!this.overrun && this.waiting.length > 0 && now - this.waiting[0]!.dueAt > this.limits.maxLagMs) {
      this.dropOldest('lag');
    }
    // One event may always go to a socket that holds nothing, however large it is.
    while (
      !this.overrun &&
      (this.waiting.length > 1 || this.sink.writableLength > 0) &&
      this.sink.writableLength + this.waitingBytes > this.limits.maxBufferBytes
    ) {
      this.dropOldest('buffer');
    }
  }

  /** The stream ends: the events still waiting will never be sent, so they count as dropped (lossless ones excepted). */
  discardWaiting(): void {
    this.held = 0;
    while (this.waiting.length > 0) {
      const frame = this.waiting.shift()!;
      this.waitingBytes -= frame.bytes;
      // A lossless event is not lost: the client's resume gets it from the history.
      if (frame.lossless) continue;
      this.droppedEvents++;
      this.listener.dropped(frame, 'closed');
    }
  }

  /** The newest event replaces the waiting ones; lossless ones keep their place. */
  private keepNewest(): void {
    const newest = this.waiting.at(-1)!;
    const kept = this.waiting.filter((frame) => frame.lossless || frame === newest);
    for (const frame of this.waiting) {
      if (frame.lossless || frame === newest) continue;
      this.waitingBytes -= frame.bytes;
      this.droppedEvents++;
      this.setBehind(true);
      this.listener.dropped(frame, 'replaced');
    }
    this.waiting.length = 0;
    this.waiting.push(...kept);
  }

  private dropOldest(reason: DropReason): void {
    const frame = this.waiting.shift()!;
    this.waitingBytes -= frame.bytes;
    if (frame.lossless) {
      this.overrun = true;
      this.listener.overrun?.(frame);
      return;
    }
    this.droppedEvents++;
    this.setBehind(true);
    this.listener.dropped(frame, reason);
  }

  private setBehind(behind: boolean): void {
    if (this.behind === behind) return;
    this.behind = behind;
    this.listener.behindChanged?.(behind);
  }
}

/** Writers that held events in the current turn of the event loop; flushed together after it. */
let toFlush = new Set<BackpressureWriter>();

/**
 * Flushes `writer` once the current callback is done (a microtask): when one shared timer fires
 * every stream of the pod, or one read brings several published events, each socket gets the
 * events that fell due meanwhile in one write. A loop that runs late thus writes more events per
 * syscall instead of more syscalls.
 */
export function flushSoon(writer: BackpressureWriter): void {
  if (toFlush.size === 0) queueMicrotask(flushAll);
  toFlush.add(writer);
}

function flushAll(): void {
  const writers = toFlush;
  toFlush = new Set();
  const now = performance.now();
  for (const writer of writers) writer.flush(now);
}
