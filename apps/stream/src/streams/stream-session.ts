import type { ServerResponse } from 'node:http';
import type { AppConfig } from '@app/config';
import type { HeldLock } from '@app/lock';
import {
  BackpressureWriter,
  type DeliveryListener,
  encodeComment,
  encodeEvent,
  EventSchedule,
  type MessageFramer,
} from '../sse/index.js';
import type { SequenceAnchor } from './sequence-anchor.js';
import type { SocketTuning } from './socket-tuning.js';
import type { StreamMetrics } from './stream-metrics.js';

export type CloseReason = 'client' | 'lock-lost' | 'shutdown' | 'stalled' | 'error';

export interface SessionOptions {
  readonly userId: string;
  readonly profileId: string;
  readonly pod: string;
  readonly response: ServerResponse;
  readonly lock: HeldLock;
  readonly framer: MessageFramer;
  readonly settings: AppConfig['stream'];
  readonly lockTtlMs: number;
  readonly metrics: StreamMetrics;
  /** Socket options; absent in unit tests of the session alone. */
  readonly socketTuning?: SocketTuning;
  /** The seq the stream continues after: 0 for a new stream, more when it resumes (`Last-Event-ID`). */
  readonly startSeq?: number;
  /** Called once, synchronously, when the session ends for any reason. */
  readonly onClosed: (session: StreamSession) => void;
}

/** How long an ended stream may take to flush its last frame before its socket is destroyed. */
const END_GRACE_MS = 5000;

/** Reconnect delay the client is told in the first frame. */
export const RETRY_MS = 1000;

/** The session's clock: monotonic, so a wall-clock step never stops or bursts a stream. */
const monotonicNow = () => performance.now();

/**
 * One live SSE stream. Owns its timers, its writer and its lock: whatever ends it — the client
 * leaving, lock loss, a stall, shutdown — it stops writing, releases the lock once and reports once.
 */
export class StreamSession {
  readonly writer: BackpressureWriter;
  private seq: number;
  /** Wall-clock timestamp of event `seq` (or of the start, before the first event). */
  private seqTimestamp = Date.now();
  private schedule: EventSchedule | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly o: SessionOptions) {
    this.seq = o.startSeq ?? 0;
    const { metrics, response, socketTuning } = o;
    const listener: DeliveryListener = {
      sent(frame) {
        metrics.eventsSent.inc();
        metrics.bytesSent.inc(frame.bytes);
      },
      // The empty-queue probes count as bytes sent, like every other byte.
      probed: (bytes) => metrics.bytesSent.inc(bytes),
      dropped() {
        metrics.eventsDropped.inc();
      },
      behindChanged: (behind) => socketTuning?.behind(response.socket, behind),
    };
    this.writer = new BackpressureWriter(
      o.response,
      {
        maxLagMs: o.settings.maxLagMs,
        maxBufferBytes: o.settings.maxBufferBytes,
        probeWhenBehind: socketTuning?.cutsBehindQueues ?? false,
      },
      listener,
    );
  }

  get key(): string {
    return `${this.o.userId}:${this.o.profileId}`;
  }

  get userId(): string {
    return this.o.userId;
  }

  get profileId(): string {
    return this.o.profileId;
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Where this stream's sequence stands, for the pod that serves the pair next. */
  anchor(): SequenceAnchor {
    return { seq: this.seq, timestamp: this.seqTimestamp, periodMs: 1000 / this.o.settings.eventsPerSecond };
  }

  /** How late the oldest event waiting for this socket already is, in ms. */
  lagMs(now = monotonicNow()): number {
    return this.writer.lagMs(now);
  }

  /** Sends `retry` and `hello`, then events at the configured rate until closed. */
  start(): void {
    const { response, lock, settings } = this.o;
    response.once('close', () => void this.close('client'));
    response.on('error', () => void this.close('error'));
    // The kernel took what it held back: hand over what waits (or drop what is now too late).
    response.on('drain', () => this.writer.flush(monotonicNow()));
    lock.onLost(() => void this.close('lock-lost'));
    this.control(encodeEvent({ retry: RETRY_MS }));
    this.control(
      encodeEvent({
        event: 'hello',
        data: JSON.stringify({ pod: this.o.pod, fencingToken: lock.fencingToken, lockTtlMs: this.o.lockTtlMs }),
      }),
    );
    this.seqTimestamp = Date.now();
    this.schedule = new EventSchedule(1000 / settings.eventsPerSecond, monotonicNow());
    this.ticker = setInterval(() => this.tick(), Math.max(1, Math.round(1000 / settings.eventsPerSecond)));
    this.heartbeat = setInterval(() => this.control(encodeComment('heartbeat')), settings.heartbeatMs);
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

  private tick(): void {
    // Never stream without a valid lock: loss is also checked here, not only by the renew loop.
    if (!this.o.lock.isValid()) {
      void this.close('lock-lost');
      return;
    }
    const now = monotonicNow();
    const schedule = this.schedule!;
    // The timer drifts late under load: every event that is due is offered, each with its due time.
    const due = schedule.take(now);
    if (due > 0) {
      const timestamp = Date.now();
      for (let i = 0; i < due; i++) {
        this.seq++;
        this.writer.offer(this.o.framer.frame(this.seq, timestamp, schedule.dueAt(i, due)), now);
      }
      this.seqTimestamp = timestamp;
    }
    if (this.writer.stalledFor(now) > this.o.settings.stallTimeoutMs) void this.close('stalled');
  }

  /** Control frames are never dropped, and their bytes count in `stream_bytes_sent_total` like any other. */
  private control(frame: Buffer): void {
    const before = this.writer.sentBytes;
    this.writer.writeControl(frame);
    this.o.metrics.bytesSent.inc(this.writer.sentBytes - before);
  }

  private async finish(reason: CloseReason): Promise<void> {
    clearInterval(this.ticker);
    clearInterval(this.heartbeat);
    // Events still waiting are never sent: dropped, and the closing event names the last seq, so
    // the client can count them as a gap like any other drop.
    this.writer.discardWaiting();
    this.o.onClosed(this);
    const { response } = this.o;
    const last = JSON.stringify({ pod: this.o.pod, lastSeq: this.seq });
    if (reason === 'lock-lost') {
      this.o.metrics.lockLost.inc();
      this.control(encodeEvent({ event: 'lock-lost', data: last }));
    } else if (reason === 'shutdown') {
      this.control(encodeEvent({ event: 'reconnect', data: last }));
    }
    if (reason === 'stalled' || reason === 'error') {
      response.destroy();
    } else {
      response.end();
      // A client that stopped reading would keep the socket (and its buffers) open indefinitely.
      setTimeout(() => response.destroy(), END_GRACE_MS).unref();
    }
    await this.o.lock.release();
  }
}
