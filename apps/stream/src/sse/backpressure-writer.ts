/** The part of a socket (or `http.ServerResponse`) the writer needs. */
export interface SseSink {
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

export type OfferResult = 'sent' | 'dropped' | 'closed';

/**
 * Writes straight to the socket and DROPS a droppable frame (never queues it) while the socket's
 * pending bytes exceed `maxBufferBytes`. `write()` returning false is not a reason to drop: a fast
 * reader overruns the 16 KiB high-water mark on every burst. Memory per connection is therefore
 * bounded by `maxBufferBytes` plus one frame.
 */
export class BackpressureWriter {
  sentEvents = 0;
  droppedEvents = 0;
  sentBytes = 0;
  private stalledSince: number | undefined;

  constructor(
    private readonly sink: SseSink,
    private readonly maxBufferBytes: number,
  ) {}

  /** Control frames (`retry`, `hello`, `lock-lost`, `reconnect`) are small and always written. */
  writeControl(frame: Buffer): void {
    if (this.sink.destroyed) return;
    this.sink.write(frame);
    this.sentBytes += frame.length;
  }

  /** Writes the chunks of one frame in a single syscall, or drops the frame when the buffer is full. */
  offer(chunks: readonly Buffer[], now: number): OfferResult {
    if (this.sink.destroyed) return 'closed';
    if (this.sink.writableLength > this.maxBufferBytes) {
      this.droppedEvents++;
      this.stalledSince ??= now;
      return 'dropped';
    }
    this.stalledSince = undefined;
    this.sink.cork();
    for (const chunk of chunks) {
      this.sink.write(chunk);
      this.sentBytes += chunk.length;
    }
    this.sink.uncork();
    this.sentEvents++;
    return 'sent';
  }

  /** How long every frame has been dropped for; 0 when the last offer was written. */
  stalledFor(now: number): number {
    return this.stalledSince === undefined ? 0 : now - this.stalledSince;
  }
}
