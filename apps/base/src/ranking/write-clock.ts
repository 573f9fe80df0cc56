/**
 * Microsecond write timestamps that strictly increase within the process (wall clock, plus a
 * step when two calls land in the same microsecond), for writes whose order must follow the order
 * in which their data was read.
 */
export class WriteClock {
  private last = 0n;

  constructor(private readonly nowMs: () => number = Date.now) {}

  next(): bigint {
    const now = BigInt(Math.floor(this.nowMs() * 1000));
    this.last = now > this.last ? now : this.last + 1n;
    return this.last;
  }
}
