import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import { AppError, type ErrorCode } from '@app/errors';
import { MetricsService } from '@app/metrics';

export type RejectReason =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'not_bound'
  | 'in_use'
  | 'too_many'
  | 'unavailable'
  | 'full'
  | 'draining'
  | 'rate_limited';

/** The `reason` label of each refusal's code; any other refusal is a dependency that failed. */
const REASON_OF_CODE: Partial<Record<ErrorCode, RejectReason>> = {
  INVALID_ID: 'bad_request',
  INVALID_LAST_EVENT_ID: 'bad_request',
  UNAUTHENTICATED: 'unauthenticated',
  FORBIDDEN: 'forbidden',
  USER_NOT_FOUND: 'not_found',
  PROFILE_NOT_FOUND: 'not_found',
  NOT_BOUND: 'not_bound',
  PROFILE_IN_USE: 'in_use',
  TOO_MANY_STREAMS: 'too_many',
  POD_FULL: 'full',
  DRAINING: 'draining',
  RATE_LIMITED: 'rate_limited',
};

/** The `stream_connections_rejected_total` reason of a refusal. */
export function rejectReasonOf(error: unknown): RejectReason {
  return (error instanceof AppError ? REASON_OF_CODE[error.code] : undefined) ?? 'unavailable';
}

/**
 * A count of every event (or byte) sent: a plain number, added into its Prometheus counter when
 * the counter is collected (a scrape). prom-client's `Counter.inc` allocates on every call, and
 * these are called a few times per event of every stream.
 */
export class EventCounter {
  private pending = 0;

  constructor(metrics: MetricsService, config: { name: string; help: string }) {
    const flushInto = (counter: Counter) => this.flushInto(counter);
    metrics.counter({
      ...config,
      // prom-client calls it with the counter as `this`.
      collect() {
        flushInto(this);
      },
    });
  }

  inc(value = 1): void {
    this.pending += value;
  }

  private flushInto(counter: Counter): void {
    if (this.pending === 0) return;
    counter.inc(this.pending);
    this.pending = 0;
  }
}

/** The stream tier's Prometheus series. Gauges are read at scrape time, so they are exact. */
@Injectable()
export class StreamMetrics {
  readonly eventsSent: EventCounter;
  readonly eventsDropped: EventCounter;
  readonly bytesSent: EventCounter;
  readonly rejected: Counter<'reason'>;
  readonly lockLost: Counter;
  readonly lockAcquireSeconds: Histogram;
  readonly notsentLowatFailures: Counter;

  constructor(private readonly metrics: MetricsService) {
    this.eventsSent = new EventCounter(metrics, {
      name: 'stream_events_sent_total',
      help: 'Message events written to clients',
    });
    this.eventsDropped = new EventCounter(metrics, {
      name: 'stream_events_dropped_total',
      help:
        'Message events dropped because they could not leave the process within STREAM_MAX_LAG_MS of their due time, ' +
        'or over STREAM_MAX_BUFFER_BYTES; each is a seq gap for its client',
    });
    this.bytesSent = new EventCounter(metrics, {
      name: 'stream_bytes_sent_total',
      help: 'Bytes of SSE frames written to clients',
    });
    this.rejected = metrics.counter({
      name: 'stream_connections_rejected_total',
      help: 'Stream requests refused before streaming, by reason',
      labelNames: ['reason'] as const,
    });
    this.lockLost = metrics.counter({
      name: 'stream_lock_lost_total',
      help: 'Streams closed because their pair lock could not be renewed',
    });
    this.lockAcquireSeconds = metrics.histogram({
      name: 'stream_lock_acquire_duration_seconds',
      help: 'Time to acquire a pair lock (fencing token and launched record included)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    });
    this.notsentLowatFailures = metrics.counter({
      name: 'stream_socket_notsent_lowat_failures_total',
      help: 'SSE sockets on which TCP_NOTSENT_LOWAT could not be set',
    });
  }

  /** `stream_socket_notsent_lowat_applied`: 1 while the kernel's unsent queue is capped on every SSE socket. */
  bindNotsentLowat(applied: () => boolean): void {
    this.metrics.gauge({
      name: 'stream_socket_notsent_lowat_applied',
      help: '1 while TCP_NOTSENT_LOWAT is set on SSE sockets; 0 when it cannot be set (see the log) or is disabled',
      collect() {
        this.set(applied() ? 1 : 0);
      },
    });
  }

  /** How far behind the sockets are, read from the live sessions at every scrape. */
  bindLag(maxLagMs: () => number, behind: () => number): void {
    this.metrics.gauge({
      name: 'stream_socket_lag_max_seconds',
      help: 'How late the oldest event waiting for the most-behind SSE socket is',
      collect() {
        this.set(maxLagMs() / 1000);
      },
    });
    this.metrics.gauge({
      name: 'stream_sockets_behind',
      help: 'SSE sockets slower than the stream: they get the newest event, with gaps',
      collect() {
        this.set(behind());
      },
    });
  }

  /** Registers the two gauges, read from their source of truth at every scrape. */
  bindGauges(activeConnections: () => number, locksHeld: () => number): void {
    this.metrics.gauge({
      name: 'stream_active_connections',
      help: 'Open SSE streams on this pod (the HPA metric)',
      collect() {
        this.set(activeConnections());
      },
    });
    this.metrics.gauge({
      name: 'stream_locks_held',
      help: 'Pair locks held by this pod; differs from stream_active_connections only on a leak',
      collect() {
        this.set(locksHeld());
      },
    });
  }

  /** The lock servers whose "free" counts now; below the quorum, new streams get 503 (see docs/lock.md). */
  bindLockServers(voting: () => number, quorum: number): void {
    this.metrics.gauge({
      name: 'stream_lock_servers_voting',
      help: `Lock servers that may vote now (identified and out of their post-restart lease); ${quorum} are needed`,
      collect() {
        this.set(voting());
      },
    });
  }
}
