/** What a lock server says about itself when a connection to it becomes ready. */
export interface ServerIdentity {
  /** `INFO server` `run_id`: new at every start of the process. */
  readonly runId: string;
  /** `INFO server` `uptime_in_seconds` × 1000 (rounded down by Redis, so never more than the truth). */
  readonly uptimeMs: number;
  /** The value of the data-set key after our `SET NX`. */
  readonly dataset: string;
  /** True when our `SET NX` wrote it: the data set had no id, so it is new or was wiped. */
  readonly datasetCreated: boolean;
}

/** A server started empty by whoever started it may be declared so: `SET kubescaler:dataset fresh:<run_id>`. */
export const declaredFresh = (runId: string): string => `fresh:${runId}`;

/**
 * Redlock's "delayed restart", decided by the app: whether one lock server's answer that a pair
 * is FREE may count, given what we know of its current incarnation. A server that may have lost
 * lock keys — restarted less than a lease ago, a different process than before behind the same
 * address, or a data set that is new or was wiped — does not vote for one lease, so no holder that
 * still streams under a key it forgot can be overtaken. Times are monotonic milliseconds.
 */
export class Incarnation {
  private runId: string | undefined;
  private dataset: string | undefined;
  private quarantinedUntil = Number.NEGATIVE_INFINITY;
  private identified = false;

  constructor(private readonly leaseMs: number) {}

  /** The data-set id the acquire script must find, or undefined until the server was identified. */
  get datasetId(): string | undefined {
    return this.identified ? this.dataset : undefined;
  }

  /** A connection became ready and the server answered with `identity` at `now`. */
  observe(identity: ServerIdentity, now: number): void {
    const wiped = identity.datasetCreated || (this.dataset !== undefined && identity.dataset !== this.dataset);
    let until = Number.NEGATIVE_INFINITY;
    if (this.runId === undefined) {
      // First sight: nothing is known of its past but its uptime and whether its data set is new.
      if (identity.dataset !== declaredFresh(identity.runId)) until = now + this.leaseMs - identity.uptimeMs;
    } else if (identity.runId !== this.runId) {
      // Another process behind the same address (a restart, or a replica promoted with a long uptime).
      until = now + this.leaseMs;
    }
    if (wiped) until = now + this.leaseMs;
    this.quarantinedUntil = Math.max(this.quarantinedUntil, until);
    this.runId = identity.runId;
    this.dataset = identity.dataset;
    this.identified = true;
  }

  /** The connection closed: nothing this server says counts until it is identified again. */
  forget(): void {
    this.identified = false;
  }

  /** The acquire script found another data-set id (or none): the data is gone without a reconnect. */
  datasetChanged(now: number): void {
    this.quarantinedUntil = Math.max(this.quarantinedUntil, now + this.leaseMs);
    this.identified = false;
  }

  /** True when this server's "free" may count towards a quorum at `now`. */
  canVote(now: number): boolean {
    return this.identified && now >= this.quarantinedUntil;
  }

  /** Milliseconds until it may vote again (0 when it may; Infinity while unidentified). */
  quarantineLeftMs(now: number): number {
    if (!this.identified) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.quarantinedUntil - now);
  }
}
