/**
 * The read budget of a reader on a link of `bytesPerSecond`: each refill adds what the link
 * carried in the time that really passed since the last one — so a reader whose timers fire late
 * on a busy machine still reads at the link's rate, instead of slower — with at most `maxBankMs`
 * worth banked, so it never bursts like a fast reader.
 */
export class LinkRate {
  private last: number;
  private readonly maxBank: number;

  constructor(
    readonly bytesPerSecond: number,
    maxBankMs: number,
    now = performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new Error(`a link needs a rate > 0 bytes/s, got ${bytesPerSecond}`);
    this.last = now;
    this.maxBank = (bytesPerSecond * maxBankMs) / 1000;
  }

  /** `budget` (bytes the reader may still read, ≤ 0 when it is over) after the time up to `now`. */
  refill(budget: number, now = performance.now()): number {
    const elapsedMs = Math.max(0, now - this.last);
    this.last = now;
    return Math.min(budget + (this.bytesPerSecond * elapsedMs) / 1000, this.maxBank);
  }
}
