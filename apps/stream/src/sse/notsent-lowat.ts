import type { Socket } from 'node:net';

/** Linux `IPPROTO_TCP` and `TCP_NOTSENT_LOWAT` (include/uapi/linux/tcp.h). */
export const IPPROTO_TCP = 6;
export const TCP_NOTSENT_LOWAT = 25;

/** `setsockopt(2)` on a Node socket, integer values only. Throws when the kernel refuses. */
export type SetSockOpt = (socket: Socket, level: number, option: number, value: number) => void;

export type LowatState = 'applying' | 'disabled' | 'failed';

export interface LowatLogger {
  warn(message: string): void;
}

/**
 * Caps the bytes the kernel queues unsent on each SSE socket (`TCP_NOTSENT_LOWAT`). Without it a
 * reader that stops reading holds up to `tcp_wmem` max (≈ 4 MB) of kernel memory, charged to the
 * pod, and the process cannot tell how far behind the socket is.
 *
 * Never fails a stream: where the option cannot be set (the native module is missing, another
 * platform, the kernel refuses) it says so ONCE in the log, reports `applied = false` and counts
 * every socket it could not set.
 */
export class NotsentLowat {
  private current: LowatState;
  private reason: string | undefined;
  failures = 0;
  appliedSockets = 0;

  /**
   * @param bytes the cap; 0 leaves the kernel's default (no cap)
   * @param setsockopt the system call, or why it is not available here
   */
  constructor(
    readonly bytes: number,
    private readonly setsockopt: SetSockOpt | { unavailable: string },
    private readonly logger: LowatLogger,
  ) {
    if (bytes === 0) {
      this.current = 'disabled';
      logger.warn(
        'TCP_NOTSENT_LOWAT is off (STREAM_SOCKET_NOTSENT_LOWAT_BYTES=0): the kernel may queue up to its tcp_wmem maximum per SSE socket',
      );
    } else if (typeof setsockopt === 'function') {
      this.current = 'applying';
    } else {
      this.current = 'failed';
      this.fail(setsockopt.unavailable);
    }
  }

  get state(): LowatState {
    return this.current;
  }

  /** True while the cap is being set on SSE sockets (the gauge `stream_socket_notsent_lowat_applied`). */
  get applied(): boolean {
    return this.current === 'applying';
  }

  /** Why the cap is not applied, when it is not. */
  get failure(): string | undefined {
    return this.reason;
  }

  /** Sets the cap on `socket`; returns whether it holds there. */
  apply(socket: Socket | null | undefined): boolean {
    return this.set(socket, this.bytes);
  }

  /**
   * While a socket is behind, its cap is 1 byte: the kernel then takes a write only once it has
   * sent everything before it, so the socket's `drain` means "kernel queue empty".
   */
  setBehind(socket: Socket | null | undefined, behind: boolean): boolean {
    return this.set(socket, behind ? 1 : this.bytes);
  }

  private set(socket: Socket | null | undefined, bytes: number): boolean {
    if (this.current === 'disabled') return false;
    // A socket that is already closing has nothing left to cap: not a failure of the option.
    if (socket?.destroyed) return false;
    if (typeof this.setsockopt !== 'function') {
      this.failures++;
      return false;
    }
    try {
      if (!socket) throw new Error('the response has no socket');
      this.setsockopt(socket, IPPROTO_TCP, TCP_NOTSENT_LOWAT, bytes);
      this.appliedSockets++;
      this.current = 'applying';
      return true;
    } catch (error) {
      this.failures++;
      this.current = 'failed';
      this.fail(error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  private fail(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.logger.warn(
      `TCP_NOTSENT_LOWAT (${this.bytes} bytes) cannot be set on SSE sockets: ${reason}. ` +
        'A stalled reader then holds up to the kernel’s tcp_wmem maximum in send buffers, and freshness is bounded ' +
        'only by STREAM_MAX_BUFFER_BYTES. See stream_socket_notsent_lowat_applied.',
    );
  }
}

/**
 * The `setsockopt` of npm `sockopt` (a native addon built at install), or why it is unavailable.
 * The option number is Linux's, so other platforms are refused rather than misconfigured.
 */
export async function loadSetSockOpt(
  platform: string = process.platform,
): Promise<SetSockOpt | { unavailable: string }> {
  if (platform !== 'linux') return { unavailable: `TCP_NOTSENT_LOWAT is set only on Linux (this is ${platform})` };
  try {
    const sockopt = (await import('sockopt')).default;
    return (socket, level, option, value) => sockopt.setsockopt(socket, level, option, value);
  } catch (error) {
    return {
      unavailable:
        `the native module "sockopt" did not load (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); ` +
        'it is an optional dependency compiled at npm install and needs python3, make and a C++ compiler there',
    };
  }
}
