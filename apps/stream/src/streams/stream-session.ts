import type { ServerResponse } from 'node:http';
import type { AppConfig } from '@app/config';
import type { HeldLock } from '@app/lock';
import { BackpressureWriter, encodeComment, encodeEvent, EventSchedule, type MessageFramer } from '../sse/index.js';
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
  /** Called once, synchronously, when the session ends for any reason. */
  readonly onClosed: (session: StreamSession) => void;
}

/** How long an ended stream may take to flush its last frame before its socket is destroyed. */
const END_GRACE_MS = 5000;

/** Reconnect delay the client is told in the first frame. */
export const RETRY_MS = 1000;

/**
 * One live SSE stream. Owns its timers, its writer and its lock: whatever ends it — the client
 * leaving, lock loss, a stall, shutdown — it stops writing, releases the lock once and reports once.
 */
export class StreamSession {
  readonly writer: BackpressureWriter;
  private seq = 0;
  private schedule: EventSchedule | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly o: SessionOptions) {
    this.writer = new BackpressureWriter(o.response, o.settings.maxBufferBytes);
  }

  get key(): string {
    return `${this.o.userId}:${this.o.profileId}`;
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Sends `retry` and `hello`, then events at the configured rate until closed. */
  start(): void {
    const { response, lock, settings } = this.o;
    response.once('close', () => void this.close('client'));
    response.on('error', () => void this.close('error'));
    lock.onLost(() => void this.close('lock-lost'));
    this.control(encodeEvent({ retry: RETRY_MS }));
    this.control(
      encodeEvent({
        event: 'hello',
        data: JSON.stringify({ pod: this.o.pod, fencingToken: lock.fencingToken, lockTtlMs: this.o.lockTtlMs }),
      }),
    );
    this.schedule = new EventSchedule(1000 / settings.eventsPerSecond, Date.now());
    this.ticker = setInterval(() => this.tick(), Math.max(1, Math.round(1000 / settings.eventsPerSecond)));
    this.heartbeat = setInterval(() => this.offer([encodeComment('heartbeat')], false), settings.heartbeatMs);
  }

  /** Ends the stream once; later calls return the same promise. */
  close(reason: CloseReason): Promise<void> {
    this.closed ??= this.finish(reason);
    return this.closed;
  }

  private tick(): void {
    const now = Date.now();
    // Never stream without a valid lock: loss is also checked here, not only by the renew loop.
    if (!this.o.lock.isValid()) {
      void this.close('lock-lost');
      return;
    }
    // The timer drifts late under load: send every event that is due, coalesced into one write.
    const due = this.schedule?.take(now) ?? 0;
    if (due > 1) this.o.response.cork();
    for (let i = 0; i < due; i++) {
      this.seq++;
      this.offer(this.o.framer.frame(this.seq, now), true);
    }
    if (due > 1) this.o.response.uncork();
    if (this.writer.stalledFor(now) > this.o.settings.stallTimeoutMs) void this.close('stalled');
  }

  /** Control frames are never dropped, and their bytes count in `stream_bytes_sent_total` like any other. */
  private control(frame: Buffer): void {
    const before = this.writer.sentBytes;
    this.writer.writeControl(frame);
    this.o.metrics.bytesSent.inc(this.writer.sentBytes - before);
  }

  private offer(chunks: Buffer[], isEvent: boolean): void {
    const before = this.writer.sentBytes;
    const result = this.writer.offer(chunks, Date.now());
    if (result === 'sent') {
      this.o.metrics.bytesSent.inc(this.writer.sentBytes - before);
      if (isEvent) this.o.metrics.eventsSent.inc();
    } else if (result === 'dropped' && isEvent) {
      this.o.metrics.eventsDropped.inc();
    }
  }

  private async finish(reason: CloseReason): Promise<void> {
    clearInterval(this.ticker);
    clearInterval(this.heartbeat);
    this.o.onClosed(this);
    const { response } = this.o;
    if (reason === 'lock-lost') {
      this.o.metrics.lockLost.inc();
      this.control(encodeEvent({ event: 'lock-lost', data: JSON.stringify({ pod: this.o.pod }) }));
    } else if (reason === 'shutdown') {
      this.control(encodeEvent({ event: 'reconnect', data: JSON.stringify({ pod: this.o.pod }) }));
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
