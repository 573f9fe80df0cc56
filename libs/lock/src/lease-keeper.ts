export interface LeaseKeeperOptions {
  /** Time between the starts of two renewals. */
  renewMs: number;
  /** The lease counts as gone this long before `expiresAt` (clock drift, in-flight time). */
  marginMs: number;
  /** When the current lease ends, on `now()`'s clock (already drift-corrected by the lock). */
  expiresAt: number;
  /** Extends the lease; resolves with its new end on `now()`'s clock, rejects when it could not be extended. */
  renew: () => Promise<number>;
  /** Called once, synchronously, when the lease is lost. */
  onLost: (reason: string) => void;
  /** The monotonic clock every deadline is measured on. Default `performance.now()`: wall-clock steps never move it. */
  now?: () => number;
}

export type LeaseState = 'active' | 'lost' | 'stopped';

/**
 * The renewal schedule of one lease, without any Redis: a renewal every `renewMs`, never two in
 * flight, validity checked before each, and a watchdog at the end of the lease so that a renewal
 * that hangs or a stalled timer still ends in `lost` by the deadline. The first failure is final:
 * no retry, no renewal after `lost` or `stop()`.
 */
export class LeaseKeeper {
  private currentState: LeaseState = 'active';
  private expiresAt: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private inFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.expiresAt = options.expiresAt;
    this.now = options.now ?? (() => performance.now());
  }

  get state(): LeaseState {
    return this.currentState;
  }

  /** True while active and at least `marginMs` of the lease is left at `now` (monotonic, default now). */
  isValid(now = this.now()): boolean {
    return this.currentState === 'active' && now < this.expiresAt - this.options.marginMs;
  }

  /** Starts the schedule; declares the lease lost at once if it is already too short. */
  start(): void {
    if (this.currentState !== 'active') return;
    if (!this.isValid()) return this.lose('the lease expired before it was used');
    this.armWatchdog();
    this.scheduleRenewal(this.options.renewMs);
  }

  /** Ends the schedule without declaring a loss (a voluntary release). */
  stop(): void {
    if (this.currentState !== 'active') return;
    this.currentState = 'stopped';
    this.clearTimers();
  }

  /** Declares the lease lost now (idempotent; no effect once stopped). */
  lose(reason: string): void {
    if (this.currentState !== 'active') return;
    this.currentState = 'lost';
    this.clearTimers();
    this.options.onLost(reason);
  }

  private async renewNow(): Promise<void> {
    this.renewTimer = undefined;
    if (this.currentState !== 'active' || this.inFlight) return;
    if (!this.isValid()) return this.lose('the lease expired before it could be renewed');
    const startedAt = this.now();
    this.inFlight = true;
    let next: number;
    try {
      next = await this.options.renew();
    } catch (error) {
      return this.lose(`renewal failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.inFlight = false;
    }
    // Lost or stopped meanwhile: the result no longer matters, and nothing may be rescheduled.
    if (this.currentState !== 'active') return;
    this.expiresAt = next;
    if (!this.isValid()) return this.lose('the renewed lease was already over');
    this.armWatchdog();
    this.scheduleRenewal(this.options.renewMs - (this.now() - startedAt));
  }

  private scheduleRenewal(delayMs: number): void {
    this.renewTimer = setTimeout(() => void this.renewNow(), Math.max(0, delayMs));
    this.renewTimer.unref?.();
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const delayMs = this.expiresAt - this.options.marginMs - this.now();
    this.watchdog = setTimeout(() => this.lose('the lease ran out before a renewal succeeded'), Math.max(0, delayMs));
    this.watchdog.unref?.();
  }

  private clearTimers(): void {
    clearTimeout(this.renewTimer);
    clearTimeout(this.watchdog);
    this.renewTimer = undefined;
    this.watchdog = undefined;
  }
}
