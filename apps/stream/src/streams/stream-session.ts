import type { StreamConfig } from '@app/config';
import type { HeldLock } from '@app/lock';
import type { SourceEvent, SourceFeed, SourceTarget } from '../sources/stream-source.js';
import {
  BackpressureWriter,
  type DeliveryListener,
  encodeComment,
  encodeEvent,
  type Frame,
  frameEvent,
  EVENT_SLOT_MS,
  SharedTimer,
  flushSoon,
} from '../sse/index.js';
import { formatEventId, NO_ENTRY, type ResumePoint } from './event-id.js';
import type { SequenceAnchor } from './sequence-anchor.js';
import type { SocketTuning } from './socket-tuning.js';
import type { StreamMetrics } from './stream-metrics.js';
import type { OpenedStream, StreamOutput } from './stream-output.js';

/**
 * Why a stream ended. `resume`: it could not deliver its events losslessly (a reader too slow
 * for its published events, a broken feed) and asks the client to reconnect and resume;
 * `taken-over`: its own client reconnected elsewhere, so this connection is dead.
 */
export type CloseReason = 'client' | 'lock-lost' | 'shutdown' | 'stalled' | 'error' | 'resume' | 'taken-over';

export interface SessionOptions {
  readonly userId: string;
  readonly profileId: string;
  readonly pod: string;
  readonly lock: HeldLock;
  readonly settings: StreamConfig['stream'];
  readonly lockTtlMs: number;
  readonly metrics: StreamMetrics;
  /** The client session this stream serves (16 hex digits); every event id carries it. */
  readonly session: string;
  /** What the client's `Last-Event-ID` said; undefined for a new client session. */
  readonly resume?: ResumePoint;
  /** Socket options; absent in unit tests of the session alone. */
  readonly socketTuning?: SocketTuning;
  /** The pod's shared timers (`StreamTimers`); a session alone (unit tests) makes its own. */
  readonly timers?: StreamTimers;
  /** Called once, synchronously, when the session ends for any reason. */
  readonly onClosed: (session: StreamSession, reason: CloseReason) => void;
}

/** How long an ended stream may take to flush its last frame before its socket is destroyed. */
const END_GRACE_MS = 5000;

const HEARTBEAT = encodeComment('heartbeat');

/** Reconnect delay the client is told in the first frame. */
export const RETRY_MS = 1000;

/** The session's clock: monotonic, so a wall-clock step never stops or bursts a stream. */
const monotonicNow = () => performance.now();

/**
 * The timers every session of a pod shares: one per period (the event period for the watchdog,
 * the heartbeat), not two timers and two closures per stream.
 */
export class StreamTimers {
  readonly watch: SharedTimer<StreamSession>;
  readonly heartbeat: SharedTimer<StreamSession>;

  constructor(settings: Pick<StreamConfig['stream'], 'eventsPerSecond' | 'heartbeatMs'>) {
    this.watch = new SharedTimer(
      Math.max(1, Math.round(1000 / settings.eventsPerSecond)),
      (session, now) => session.watch(now),
      undefined,
      EVENT_SLOT_MS,
    );
    this.heartbeat = new SharedTimer(settings.heartbeatMs, (session) => session.beat());
  }
}

/** The writer's listener of one session: its metrics and socket tuning (one object, no closures). */
class SessionDelivery implements DeliveryListener {
  constructor(private readonly session: StreamSession) {}

  sent(frame: Frame): void {
    const { metrics } = this.session.options;
    metrics.eventsSent.inc();
    metrics.bytesSent.inc(frame.bytes);
  }

  // The empty-queue probes count as bytes sent, like every other byte.
  probed(bytes: number): void {
    this.session.options.metrics.bytesSent.inc(bytes);
  }

  dropped(): void {
    this.session.options.metrics.eventsDropped.inc();
  }

  behindChanged(behind: boolean): void {
    this.session.options.socketTuning?.behind(this.session.socket, behind);
  }

  overrun(): void {
    void this.session.close('resume');
  }
}

/**
 * One live SSE stream. Owns its timers, its writer, its sources' feeds and its lock: whatever
 * ends it — the client leaving, lock loss, a stall, shutdown — it stops writing, releases the
 * lock once and reports once. The sources hand it events (it is their `SourceTarget`); it never
 * knows which source an event came from.
 */
export class StreamSession implements SourceTarget {
  /** Where the events go, and the writer to them: both from `start` on. */
  private opened: OpenedStream | undefined;
  private startedWriter: BackpressureWriter | undefined;
  /** Where the client stands; changed in place (one object per stream, not one per event). */
  private readonly position: { seq: number; entry: string; session: string };
  /** Wall-clock timestamp of generated event `position.seq` (or of the start, before the first one). */
  private seqTimestamp = Date.now();
  private feeds: readonly SourceFeed[] = [];
  private timers: StreamTimers | undefined;
  /** This session's slots in the shared watchdog and heartbeat timers; -1 while not in them. */
  private watchSlot = -1;
  private beatSlot = -1;
  private closed: Promise<void> | undefined;

  /** What the session was opened with (its delivery listener reads the metrics and socket tuning). */
  constructor(readonly options: SessionOptions) {
    const resume = options.resume;
    this.position = { seq: resume?.seq ?? 0, entry: resume?.entry ?? NO_ENTRY, session: options.session };
  }

  /** The stream's writer (from `start` on). */
  get writer(): BackpressureWriter {
    if (!this.startedWriter) throw new Error('the stream has not started');
    return this.startedWriter;
  }

  /** Whether the stream took its socket from the HTTP server (see `openStream`). */
  get detached(): boolean {
    return this.opened?.detached ?? false;
  }

  /** The TCP socket under the stream's output, for its options. */
  get socket(): OpenedStream['socket'] {
    return this.opened?.socket ?? null;
  }

  get userId(): string {
    return this.options.userId;
  }

  get profileId(): string {
    return this.options.profileId;
  }

  get resume(): ResumePoint | undefined {
    return this.options.resume;
  }

  /** The id of the last event sent (the `hello` carries the starting one). */
  private get eventId(): string {
    return formatEventId(this.position);
  }

  /** Where this stream's generated sequence stands, for the pod that serves the pair next. */
  anchor(): SequenceAnchor {
    return {
      seq: this.position.seq,
      timestamp: this.seqTimestamp,
      periodMs: 1000 / this.options.settings.eventsPerSecond,
    };
  }

  /** How late the oldest event waiting for this socket already is, in ms. */
  lagMs(now = monotonicNow()): number {
    return this.startedWriter?.lagMs(now) ?? 0;
  }

  /**
   * Sends `retry` and `hello` (whose `id:` is where the client starts, so even a client that got
   * nothing else resumes losslessly), then hands the sources' events over until closed.
   */
  start(opened: OpenedStream, feeds: readonly SourceFeed[] = []): void {
    const { lock, settings } = this.options;
    const { output } = (this.opened = opened);
    if (this.closed) {
      // Ended while it was being opened (its client reconnected elsewhere): the head is all it gets.
      output.end();
      return;
    }
    this.startedWriter = new BackpressureWriter(
      output,
      {
        maxLagMs: settings.maxLagMs,
        maxBufferBytes: settings.maxBufferBytes,
        probeWhenBehind: this.options.socketTuning?.cutsBehindQueues ?? false,
      },
      new SessionDelivery(this),
    );
    this.feeds = feeds;
    for (const feed of feeds) {
      const { seq, entry } = feed.startsAt;
      if (seq !== undefined) this.position.seq = seq;
      if (entry !== undefined) this.position.entry = entry;
    }
    output.once('close', () => void this.close('client'));
    output.on('error', () => void this.close('error'));
    // The kernel took what it held back: hand over what waits (or drop what is now too late).
    output.on('drain', () => this.writer.flush(monotonicNow()));
    lock.onLost(() => void this.close('lock-lost'));
    this.control(encodeEvent({ retry: RETRY_MS }));
    this.control(
      encodeEvent({
        event: 'hello',
        id: this.eventId,
        data: JSON.stringify({
          pod: this.options.pod,
          fencingToken: lock.fencingToken,
          lockTtlMs: this.options.lockTtlMs,
        }),
      }),
    );
    this.seqTimestamp = Date.now();
    const timers = (this.timers = this.options.timers ?? new StreamTimers(settings));
    this.watchSlot = timers.watch.add(this);
    this.beatSlot = timers.heartbeat.add(this);
    for (const feed of feeds) feed.start();
  }

  /** A source's event: framed with the id of the position it moves the client to, then offered to the writer. */
  emit(event: SourceEvent): void {
    const writer = this.startedWriter;
    if (this.closed || !writer) return;
    // Never stream without a valid lock: loss is also checked here, not only by the renew loop.
    if (!this.options.lock.isValid()) {
      void this.close('lock-lost');
      return;
    }
    if (event.seq !== undefined) {
      this.position.seq = event.seq;
      this.seqTimestamp = event.timestamp ?? Date.now();
    }
    if (event.entry !== undefined) this.position.entry = event.entry;
    const frame = frameEvent({
      id: this.eventId,
      event: event.event,
      data: event.data,
      seq: this.position.seq,
      dueAt: event.dueAt,
      lossless: event.lossless,
    });
    if (writer.hold(frame, monotonicNow())) flushSoon(writer);
  }

  /** A source cannot go on losslessly: the client reconnects and resumes from its last id. */
  fail(): void {
    void this.close('resume');
  }

  /**
   * Ends the stream once; later calls return the same promise. The promise exists before any of
   * the ending runs, so a reason that fires from inside it (a destroyed socket's `close`) is a no-op.
   */
  close(reason: CloseReason): Promise<void> {
    if (this.closed === undefined) {
      let settle!: { resolve: () => void; reject: (error: unknown) => void };
      this.closed = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      this.finish(reason).then(settle.resolve, settle.reject);
    }
    return this.closed;
  }

  /** The watchdog, every event period (shared timer): lock validity, events that fell due, stalls. */
  watch(now = monotonicNow()): void {
    if (!this.options.lock.isValid(now)) {
      void this.close('lock-lost');
      return;
    }
    this.writer.flush(now);
    if (this.writer.stalledFor(now) > this.options.settings.stallTimeoutMs) void this.close('stalled');
  }

  /** The heartbeat comment (shared timer). */
  beat(): void {
    this.control(HEARTBEAT);
  }

  /** Control frames are never dropped, and their bytes count in `stream_bytes_sent_total` like any other. */
  private control(frame: Buffer): void {
    const writer = this.startedWriter;
    if (!writer) return;
    const before = writer.sentBytes;
    writer.writeControl(frame);
    this.options.metrics.bytesSent.inc(writer.sentBytes - before);
  }

  private async finish(reason: CloseReason): Promise<void> {
    this.timers?.watch.delete(this, this.watchSlot);
    this.timers?.heartbeat.delete(this, this.beatSlot);
    for (const feed of this.feeds) feed.close();
    // Events still waiting are never sent: dropped, and the closing event names the last seq, so
    // the client can count them as a gap like any other drop.
    this.startedWriter?.discardWaiting();
    this.options.onClosed(this, reason);
    const last = { pod: this.options.pod, lastSeq: this.position.seq };
    if (reason === 'lock-lost') {
      this.options.metrics.lockLost.inc();
      this.control(encodeEvent({ event: 'lock-lost', data: JSON.stringify(last) }));
    } else if (reason === 'shutdown') {
      this.control(encodeEvent({ event: 'reconnect', data: JSON.stringify(last) }));
    } else if (reason === 'resume') {
      this.control(encodeEvent({ event: 'reconnect', data: JSON.stringify({ ...last, reason: 'resume' }) }));
    }
    // Before `start` nothing was sent, and `start` ends what it is given.
    const output = this.opened?.output;
    if (output) this.endOutput(output, reason);
    await this.options.lock.release();
  }

  private endOutput(output: StreamOutput, reason: CloseReason): void {
    if (reason === 'stalled' || reason === 'error' || reason === 'taken-over') {
      output.destroy();
    } else {
      output.end();
      // A client that stopped reading would keep the socket (and its buffers) open indefinitely.
      setTimeout(() => output.destroy(), END_GRACE_MS).unref();
    }
  }
}
