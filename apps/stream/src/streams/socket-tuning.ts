import { Logger, type Provider } from '@nestjs/common';
import type { Socket } from 'node:net';
import { APP_CONFIG, type StreamConfig } from '@app/config';
import { loadSetSockOpt, NotsentLowat, type SetSockOpt } from '../sse/notsent-lowat.js';
import { StreamMetrics } from './stream-metrics.js';

/**
 * Socket options of every SSE socket: the kernel's unsent queue capped with TCP_NOTSENT_LOWAT
 * (`STREAM_SOCKET_NOTSENT_LOWAT_BYTES`).
 */
export class SocketTuning {
  private readonly lowat: NotsentLowat;

  constructor(
    bytes: number,
    setsockopt: SetSockOpt | { unavailable: string },
    private readonly metrics: StreamMetrics,
  ) {
    this.lowat = new NotsentLowat(bytes, setsockopt, new Logger(SocketTuning.name));
    metrics.bindNotsentLowat(() => this.lowat.applied);
  }

  /** Whether sockets that fall behind get their kernel queue cut to one event (the cap can be set here). */
  get cutsBehindQueues(): boolean {
    return this.lowat.applied;
  }

  /** Tunes the socket of a new stream; a failure is logged once and counted, never fatal. */
  apply(socket: Socket | null | undefined): void {
    if (this.lowat.state === 'disabled') return;
    if (!this.lowat.apply(socket)) this.metrics.notsentLowatFailures.inc();
  }

  /** A socket fell behind the stream (its kernel queue is then kept to one event) or caught up. */
  behind(socket: Socket | null | undefined, behind: boolean): void {
    if (this.lowat.state === 'disabled' || socket?.destroyed) return;
    if (!this.lowat.setBehind(socket, behind)) this.metrics.notsentLowatFailures.inc();
  }
}

/** Loads the native `setsockopt` once at boot (logging at once if it is missing). */
export const socketTuningProvider: Provider = {
  provide: SocketTuning,
  inject: [APP_CONFIG, StreamMetrics],
  useFactory: async (config: StreamConfig, metrics: StreamMetrics) =>
    new SocketTuning(
      config.stream.notsentLowatBytes,
      config.stream.notsentLowatBytes === 0 ? { unavailable: 'disabled' } : await loadSetSockOpt(),
      metrics,
    ),
};
