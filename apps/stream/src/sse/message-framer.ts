import type { PayloadPool } from './payload-pool.js';

/**
 * Frames `message` events `{host, seq, timestamp, payload}` as three chunks — a small prefix,
 * the shared pre-generated payload and a constant suffix — so the 64 KiB payload is never copied
 * or re-encoded per event.
 */
export class MessageFramer {
  private static readonly SUFFIX = Buffer.from('"}\n\n', 'latin1');
  private readonly hostJson: string;

  constructor(
    host: string,
    private readonly pool: PayloadPool,
  ) {
    this.hostJson = JSON.stringify(host);
  }

  frame(seq: number, timestamp: number): Buffer[] {
    const prefix = Buffer.from(
      `id: ${seq}\ndata: {"host":${this.hostJson},"seq":${seq},"timestamp":${timestamp},"payload":"`,
      'utf8',
    );
    return [prefix, this.pool.next(), MessageFramer.SUFFIX];
  }
}
