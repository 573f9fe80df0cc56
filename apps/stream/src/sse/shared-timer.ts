/** How long one slot of a shared timer is at most, by default: what one firing may hand to its members. */
const SLOT_MS = 50;

/**
 * The slot of the timers that send events: at 19,000 streams a 50 ms slot handed ≈ 950 events to
 * one run of the loop, and a new stream's handshake waited behind several such runs (time to
 * first event p99 0.9 s in a 2-minute hold, against 53 ms with 10 ms slots; 5 ms cost more CPU and
 * did not help further).
 */
export const EVENT_SLOT_MS = 10;

/**
 * One timer for every member that repeats at the same period, instead of a timer (and a closure)
 * per member. The period is cut into slots of ≤ `slotMs` (default 50 ms); a member joins the slot that fired last, so
 * it first fires one period after it joined (within a slot) and the members' phases stay spread
 * over the period as their own timers' would: thousands of streams are never written in one go.
 * `fire(member, now)` is one function for all members (`now` on the monotonic clock).
 *
 * Slots fire by the clock, not by how often the underlying timer ran: a `setInterval` that a busy
 * event loop runs late does not catch up, so counting its runs would stretch every member's
 * period by the lateness of twenty runs; instead each run fires every slot that is due (a member
 * still fires at most once a run), and a loop more than a period behind is forgiven, not repeated.
 *
 * The underlying `setInterval` exists only while there are members, and never keeps the process alive.
 */
export class SharedTimer<T> {
  private readonly slots: Set<T>[];
  private readonly slotMs: number;
  /** The slot that fires next, and when it is due. */
  private next = 0;
  private nextDueAt = 0;
  private members = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly periodMs: number,
    private readonly fire: (member: T, now: number) => void,
    private readonly now: () => number = () => performance.now(),
    slotMs = SLOT_MS,
  ) {
    const count = Math.max(1, Math.ceil(periodMs / slotMs));
    this.slotMs = periodMs / count;
    this.slots = Array.from({ length: count }, () => new Set<T>());
  }

  /** Members. */
  get size(): number {
    return this.members;
  }

  /** Starts firing `member` every period, the first time about one period from now. Returns its slot. */
  add(member: T): number {
    const slot = (this.next + this.slots.length - 1) % this.slots.length;
    const before = this.slots[slot]!.size;
    this.slots[slot]!.add(member);
    if (this.slots[slot]!.size === before) return slot;
    if (this.members++ === 0) {
      this.nextDueAt = this.now() + this.slotMs;
      this.timer = setInterval(() => this.tick(), Math.max(1, Math.round(this.slotMs)));
      this.timer.unref?.();
    }
    return slot;
  }

  /** Stops firing `member` (`slot` as `add` returned it). Safe to call from inside `fire`. */
  delete(member: T, slot: number): void {
    if (!this.slots[slot]?.delete(member)) return;
    if (--this.members === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const now = this.now();
    // Timers run on a millisecond clock: one that fires a hair early still fires its slot.
    for (let fired = 0; fired < this.slots.length && now + 1 >= this.nextDueAt; fired++) {
      const slot = this.slots[this.next]!;
      this.next = (this.next + 1) % this.slots.length;
      this.nextDueAt += this.slotMs;
      for (const member of slot) this.fire(member, now);
    }
    // Still due after every slot fired: the loop was a period or more behind; that is forgiven.
    if (now + 1 >= this.nextDueAt) this.nextDueAt = now + this.slotMs;
  }
}
