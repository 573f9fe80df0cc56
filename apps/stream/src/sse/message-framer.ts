import type { Frame } from './backpressure-writer.js';
import type { PayloadPool } from './payload-pool.js';

/**
 * The data of generated events, `{host, seq, timestamp, payload}`, as three chunks — a small
 * prefix, the shared pre-generated payload and a constant suffix — so the 64 KiB payload is
 * never copied or re-encoded per event.
 */
export class MessageFramer {
  private static readonly SUFFIX = Buffer.from('"}', 'latin1');
  private readonly hostJson: string;

  constructor(
    host: string,
    private readonly pool: PayloadPool,
  ) {
    this.hostJson = JSON.stringify(host);
  }

  /** The data line of event `seq`, stamped with the wall-clock `timestamp` (epoch ms). */
  data(seq: number, timestamp: number): Buffer[] {
    const prefix = Buffer.from(`{"host":${this.hostJson},"seq":${seq},"timestamp":${timestamp},"payload":"`, 'utf8');
    return [prefix, this.pool.next(), MessageFramer.SUFFIX];
  }
}

const EVENT_END = Buffer.from('\n\n', 'latin1');

/** What `frameEvent` frames. `id` and `event` must be single-line (ours always are). */
export interface EventParts {
  readonly id: string;
  /** Undefined for the default event (`message`). */
  readonly event?: string;
  /** The data line's text in chunks: one line, never copied. */
  readonly data: readonly Buffer[];
  readonly seq: number;
  readonly dueAt: number;
  readonly lossless?: boolean;
}

/** One SSE event (`id:`, `event:`, one `data:` line) as chunks for the writer. */
export function frameEvent({ id, event, data, seq, dueAt, lossless = false }: EventParts): Frame {
  const head = Buffer.from(`id: ${id}\n${event === undefined ? '' : `event: ${event}\n`}data: `, 'utf8');
  const chunks = [head, ...data, EVENT_END];
  let bytes = 0;
  for (const chunk of chunks) bytes += chunk.length;
  return { seq, dueAt, chunks, bytes, lossless };
}
