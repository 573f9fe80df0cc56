/** One lease the renewals keep: its end on the monotonic clock, moved by each renewal. */
export interface RenewedLease {
  expiresAt: number;
}

/** A lease's new end on the monotonic clock, or why it could not be renewed. */
export type RenewalAnswer = number | { readonly failed: string };

export interface LeaseRenewalsOptions<T extends RenewedLease> {
  /** Time between two renewals of a lease. */
  renewMs: number;
  /** A lease counts as gone this long before `expiresAt` (clock drift, in-flight time). */
  marginMs: number;
  /** Renews every lease of a round together; resolves with one answer per lease, in order. */
  renew: (leases: readonly T[]) => Promise<readonly RenewalAnswer[]>;
  /** Called once, synchronously, for a lease that is lost; it has left the renewals by then. */
  onLost: (lease: T, reason: string) => void;
  /** The monotonic clock every deadline is measured on. Default `performance.now()`. */
  now?: () => number;
}

/** How long one tick of the renewal timer is at least: `renewMs` is cut into ticks of ≥ 250 ms (at most 20). */
const TICK_MS = 250;
const MAX_TICKS = 20;

/**
 * The renewal schedule of ALL of a pod's leases, without any Redis. One timer ticks every
 * `renewMs / ticks` (≥ 250 ms, at most 20 ticks a period); each tick renews, in ONE round, the
 * leases of its slot — those that joined during the previous tick — so every lease is renewed
 * every `renewMs` as on a timer of its own, a lock server gets one round trip per tick instead of
 * one per lease, and no round carries more than a slice of the pod's leases (a round of every
 * lease at once would make its last answer wait for all the others). Never two rounds of a slot
 * in flight; validity checked before each; one watchdog at the earliest deadline, so a round that
 * hangs or a stalled timer still ends each lease in `lost` by its deadline. A lease's first
 * failure is final: it leaves the renewals and is reported lost.
 */
export class LeaseRenewals<T extends RenewedLease> {
  private readonly kept = new Map<T, number>();
  private readonly slots: Set<T>[];
  private readonly inFlight: boolean[];
  /** The slot the next tick renews, and when it is due. */
  private next = 0;
  private nextDueAt = 0;
  private ticker: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogAt = Number.POSITIVE_INFINITY;
  private readonly tickMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LeaseRenewalsOptions<T>) {
    this.now = options.now ?? (() => performance.now());
    const ticks = Math.max(1, Math.min(MAX_TICKS, Math.floor(options.renewMs / TICK_MS)));
    this.tickMs = options.renewMs / ticks;
    this.slots = Array.from({ length: ticks }, () => new Set<T>());
    this.inFlight = this.slots.map(() => false);
  }

  /** Leases being renewed. */
  get size(): number {
    return this.kept.size;
  }

  /** A copy of the kept leases. */
  leases(): T[] {
    return [...this.kept.keys()];
  }

  has(lease: T): boolean {
    return this.kept.has(lease);
  }

  /** True while `lease` is kept and at least `marginMs` of it is left at `now`. */
  isValid(lease: T, now = this.now()): boolean {
    return this.kept.has(lease) && now < lease.expiresAt - this.options.marginMs;
  }

  /** Starts renewing `lease`, first about `renewMs` from now; declares it lost at once if it is already too short. */
  add(lease: T): void {
    if (this.kept.has(lease)) return;
    // The slot that ticked last ticks again one period from now.
    const slot = (this.next + this.slots.length - 1) % this.slots.length;
    this.kept.set(lease, slot);
    this.slots[slot]!.add(lease);
    if (!this.isValid(lease)) return this.lose(lease, 'the lease expired before it was used');
    if (this.ticker === undefined) {
      this.nextDueAt = this.now() + this.tickMs;
      this.ticker = setInterval(() => this.tick(), this.tickMs);
      this.ticker.unref?.();
    }
    const deadline = lease.expiresAt - this.options.marginMs;
    if (deadline < this.watchdogAt) this.armWatchdog(deadline);
  }

  /** Stops renewing `lease` without declaring a loss (a voluntary release). False if it was not kept. */
  remove(lease: T): boolean {
    const slot = this.kept.get(lease);
    if (slot === undefined) return false;
    this.kept.delete(lease);
    this.slots[slot]!.delete(lease);
    if (this.kept.size === 0) this.stopTimers();
    return true;
  }

  /** Declares `lease` lost now (no effect if it is not kept any more). */
  lose(lease: T, reason: string): void {
    if (!this.remove(lease)) return;
    this.options.onLost(lease, reason);
  }

  /**
   * One run of the timer: the round of every slot that is due by the clock — a `setInterval` run
   * late by a busy loop does not catch up, and counting its runs would stretch every lease's
   * period by the lateness of twenty runs. Each slot's round starts at most once a run.
   */
  private tick(): void {
    const now = this.now();
    for (let due = 0; due < this.slots.length && now + 1 >= this.nextDueAt; due++) {
      const slot = this.next;
      this.next = (this.next + 1) % this.slots.length;
      this.nextDueAt += this.tickMs;
      void this.round(slot);
    }
    // Still due after every slot's round started: the loop was a period or more behind.
    if (now + 1 >= this.nextDueAt) this.nextDueAt = now + this.tickMs;
  }

  private async round(slot: number): Promise<void> {
    if (this.inFlight[slot]) return;
    const startedAt = this.now();
    const due: T[] = [];
    for (const lease of this.slots[slot]!) {
      if (this.isValid(lease, startedAt)) due.push(lease);
      else this.lose(lease, 'the lease expired before it could be renewed');
    }
    if (due.length === 0) return;
    this.inFlight[slot] = true;
    let answers: readonly RenewalAnswer[];
    try {
      answers = await this.options.renew(due);
    } catch (error) {
      const failed = { failed: error instanceof Error ? error.message : String(error) };
      answers = due.map(() => failed);
    } finally {
      this.inFlight[slot] = false;
    }
    for (const [index, lease] of due.entries()) {
      // Released or lost meanwhile: the result no longer matters.
      if (!this.kept.has(lease)) continue;
      const answer = answers[index] ?? { failed: 'no answer' };
      if (typeof answer !== 'number') {
        this.lose(lease, `renewal failed: ${answer.failed}`);
        continue;
      }
      lease.expiresAt = answer;
      if (!this.isValid(lease)) this.lose(lease, 'the renewed lease was already over');
    }
    this.armWatchdog();
  }

  /** Arms the one watchdog at `deadline`, or at the earliest deadline of the kept leases. */
  private armWatchdog(deadline = this.earliestDeadline()): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.watchdogAt = deadline;
    if (!Number.isFinite(deadline)) return;
    this.watchdog = setTimeout(() => this.sweep(), Math.max(0, deadline - this.now()));
    this.watchdog.unref?.();
  }

  private sweep(): void {
    this.watchdog = undefined;
    this.watchdogAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (const lease of this.kept.keys()) {
      if (!this.isValid(lease, now)) this.lose(lease, 'the lease ran out before a renewal succeeded');
    }
    if (this.kept.size > 0) this.armWatchdog();
  }

  private earliestDeadline(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lease of this.kept.keys()) earliest = Math.min(earliest, lease.expiresAt - this.options.marginMs);
    return earliest;
  }

  private stopTimers(): void {
    clearInterval(this.ticker);
    clearTimeout(this.watchdog);
    this.ticker = undefined;
    this.watchdog = undefined;
    this.watchdogAt = Number.POSITIVE_INFINITY;
  }
}
