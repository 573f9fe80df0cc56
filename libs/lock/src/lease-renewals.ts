/** One lease the renewals keep: its end on the monotonic clock, moved by each renewal. */
export interface RenewedLease {
  expiresAt: number;
}

/** A lease's new end on the monotonic clock, or why it could not be renewed. */
export type RenewalAnswer = number | { readonly failed: string };

export interface LeaseRenewalsOptions<T extends RenewedLease> {
  /** Time between the starts of two renewal rounds. */
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

/**
 * The renewal schedule of ALL of a pod's leases, without any Redis: one timer renews every lease
 * together every `renewMs` (so a lock server gets one round trip per round, not one per lease),
 * never two rounds in flight, validity checked before each, and one watchdog at the earliest
 * deadline, so a round that hangs or a stalled timer still ends each lease in `lost` by its
 * deadline. A lease's first failure is final: it leaves the renewals and is reported lost. A new
 * lease joins the next round, at most `renewMs` after it was added — never later than a lease
 * renewed on its own schedule.
 */
export class LeaseRenewals<T extends RenewedLease> {
  private readonly kept = new Set<T>();
  private ticker: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogAt = Number.POSITIVE_INFINITY;
  private inFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: LeaseRenewalsOptions<T>) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Leases being renewed. */
  get size(): number {
    return this.kept.size;
  }

  /** A copy of the kept leases. */
  leases(): T[] {
    return [...this.kept];
  }

  has(lease: T): boolean {
    return this.kept.has(lease);
  }

  /** True while `lease` is kept and at least `marginMs` of it is left at `now`. */
  isValid(lease: T, now = this.now()): boolean {
    return this.kept.has(lease) && now < lease.expiresAt - this.options.marginMs;
  }

  /** Starts renewing `lease`; declares it lost at once if it is already too short. */
  add(lease: T): void {
    if (this.kept.has(lease)) return;
    this.kept.add(lease);
    if (!this.isValid(lease)) return this.lose(lease, 'the lease expired before it was used');
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => void this.round(), this.options.renewMs);
      this.ticker.unref?.();
    }
    const deadline = lease.expiresAt - this.options.marginMs;
    if (deadline < this.watchdogAt) this.armWatchdog(deadline);
  }

  /** Stops renewing `lease` without declaring a loss (a voluntary release). False if it was not kept. */
  remove(lease: T): boolean {
    if (!this.kept.delete(lease)) return false;
    if (this.kept.size === 0) this.stopTimers();
    return true;
  }

  /** Declares `lease` lost now (no effect if it is not kept any more). */
  lose(lease: T, reason: string): void {
    if (!this.remove(lease)) return;
    this.options.onLost(lease, reason);
  }

  /** One round: every kept lease renewed together. Runs on the timer; tests call it directly. */
  async round(): Promise<void> {
    if (this.inFlight) return;
    const startedAt = this.now();
    const due: T[] = [];
    for (const lease of this.kept) {
      if (this.isValid(lease, startedAt)) due.push(lease);
      else this.lose(lease, 'the lease expired before it could be renewed');
    }
    if (due.length === 0) return;
    this.inFlight = true;
    let answers: readonly RenewalAnswer[];
    try {
      answers = await this.options.renew(due);
    } catch (error) {
      const failed = { failed: error instanceof Error ? error.message : String(error) };
      answers = due.map(() => failed);
    } finally {
      this.inFlight = false;
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
    for (const lease of this.kept) {
      if (!this.isValid(lease, now)) this.lose(lease, 'the lease ran out before a renewal succeeded');
    }
    if (this.kept.size > 0) this.armWatchdog();
  }

  private earliestDeadline(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lease of this.kept) earliest = Math.min(earliest, lease.expiresAt - this.options.marginMs);
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
