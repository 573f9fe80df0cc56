/**
 * How many events are due at a fixed rate, and when each was due. A Node `setInterval` repeats
 * relative to when its callback last ran, so under load it drifts later and the rate falls (4
 * events/s became 3.84 at 2,000 streams; 1,000/s became ≈ 400). The session's timer asks this
 * schedule how many events are due each time it fires and sends them all.
 *
 * Times are monotonic milliseconds (`performance.now()`): a wall-clock step never stops or
 * bursts the schedule.
 */
export class EventSchedule {
  private sent = 0;
  private readonly maxOwed: number;

  /**
   * @param periodMs the exact period, `1000 / eventsPerSecond` (the timer's own period is rounded)
   * @param origin when the schedule starts; the first event is due one period later
   * @param maxCatchUpMs at most this much worth of events is sent at once; a longer pause (GC,
   *   a blocked loop) is forgiven rather than burst out: those events are never generated
   */
  constructor(
    readonly periodMs: number,
    private origin: number,
    maxCatchUpMs = 1000,
  ) {
    this.maxOwed = Math.max(1, Math.floor(maxCatchUpMs / periodMs));
  }

  /** The number of events due at `now`, counted as taken. */
  take(now: number): number {
    // Rounded, not floored: a timer firing a hair before its due time still sends its event.
    let owed = Math.round((now - this.origin) / this.periodMs) - this.sent;
    if (owed > this.maxOwed) {
      this.origin += (owed - this.maxOwed) * this.periodMs;
      owed = this.maxOwed;
    }
    if (owed <= 0) return 0;
    this.sent += owed;
    return owed;
  }

  /**
   * When the `index`-th (0-based) of the `count` events the last `take` returned was due: the
   * last one is due at `origin + sent × period`, the ones before it a period apart.
   */
  dueAt(index: number, count: number): number {
    return this.origin + (this.sent - (count - 1 - index)) * this.periodMs;
  }
}
