import type { Frame } from './backpressure-writer.js';
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

  /** Event `seq`, stamped with the wall-clock `timestamp` (epoch ms), due at monotonic `dueAt`. */
  frame(seq: number, timestamp: number, dueAt: number): Frame {
    const prefix = Buffer.from(
      `id: ${seq}\ndata: {"host":${this.hostJson},"seq":${seq},"timestamp":${timestamp},"payload":"`,
      'utf8',
    );
    const payload = this.pool.next();
    return {
      seq,
      dueAt,
      chunks: [prefix, payload, MessageFramer.SUFFIX],
      bytes: prefix.length + payload.length + MessageFramer.SUFFIX.length,
    };
  }
}
