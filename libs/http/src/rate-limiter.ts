import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '@app/errors';

const WINDOW_MS = 60_000;

/**
 * At most `limitPerMinute` calls per client key in each minute (a fixed window per key, in this
 * process's memory: each replica counts its own). `0` is no limit. Keys whose window has ended
 * are dropped as new ones come, so memory stays bounded by the clients of the last minute.
 */
export class ClientRateLimiter {
  private readonly windows = new Map<string, { startedAt: number; count: number }>();
  private sweptAt: number;

  constructor(
    readonly what: string,
    readonly limitPerMinute: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sweptAt = now();
  }

  /** Counts one call of `key`; throws 429 `RATE_LIMITED` (with `Retry-After`) past the limit. */
  take(key: string): void {
    if (this.limitPerMinute === 0) return;
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count++;
    if (window.count > this.limitPerMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((window.startedAt + WINDOW_MS - now) / 1000));
      throw AppError.of('RATE_LIMITED', { what: this.what, limit: this.limitPerMinute, retryAfterSeconds });
    }
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < WINDOW_MS) return;
    this.sweptAt = now;
    for (const [key, window] of this.windows) if (now - window.startedAt >= WINDOW_MS) this.windows.delete(key);
  }
}

/**
 * The client a request comes from: `X-Real-IP` as the gateway (nginx, ingress-nginx) sets it from
 * the connection — replacing what a client claims — else the socket's peer. Only the gateway can
 * reach the apps (loopback under `npm start`, NetworkPolicies on Kubernetes), so the header is
 * the gateway's word.
 */
export function clientAddress(request: {
  readonly headers: IncomingHttpHeaders;
  readonly socket?: { readonly remoteAddress?: string };
}): string {
  const real = request.headers['x-real-ip'];
  const header = Array.isArray(real) ? real[0] : real;
  return header?.trim() || request.socket?.remoteAddress || 'unknown';
}
