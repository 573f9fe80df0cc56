import { SharedTimer } from './shared-timer.js';

/**
 * A `SharedTimer` whose members are handled in rounds: the members one run of the timer fires
 * are handed to `round` together, once that run is done (a microtask). Each member is handled
 * once a period, a slot of them at a time — one Redis pipeline per run, not one per member, and
 * never one of every member at once, whose thousands of commands would all be alive together
 * until the last answer came.
 */
export class TimedRounds<T> {
  private readonly timer: SharedTimer<T>;
  private readonly slots = new Map<T, number>();
  private due: T[] = [];
  private stopped = false;

  constructor(
    periodMs: number,
    private readonly round: (members: T[]) => void,
    now?: () => number,
  ) {
    this.timer = new SharedTimer(periodMs, (member) => this.collect(member), now);
  }

  /** Members. */
  get size(): number {
    return this.slots.size;
  }

  /** Handles `member` every period from now on, the first time about one period from now. */
  add(member: T): void {
    if (!this.stopped && !this.slots.has(member)) this.slots.set(member, this.timer.add(member));
  }

  delete(member: T): void {
    const slot = this.slots.get(member);
    if (slot === undefined) return;
    this.slots.delete(member);
    this.timer.delete(member, slot);
  }

  /** No round is handed over any more (shutdown); members still in a run already done are dropped. */
  stop(): void {
    this.stopped = true;
    for (const member of [...this.slots.keys()]) this.delete(member);
    this.due = [];
  }

  private collect(member: T): void {
    if (this.due.length === 0) queueMicrotask(this.handOver);
    this.due.push(member);
  }

  private readonly handOver = (): void => {
    const due = this.due;
    this.due = [];
    if (!this.stopped && due.length > 0) this.round(due);
  };
}
