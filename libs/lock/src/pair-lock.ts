import { type Lock, Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { AppError } from '@app/errors';
import { classifyAcquireFailure, explainRedlockFailure } from './acquire-failure.js';
import { type PairKeys, pairKeys } from './keys.js';
import { createLaunchedRecord, deleteLaunchedRecord, refreshLaunchedRecord } from './launched-record.js';
import { LeaseKeeper } from './lease-keeper.js';
import { type LockLogger, SILENT_LOGGER } from './redis-client.js';

export interface PairLockOptions {
  /** Redlock members (`REDIS_LOCK_URLS`): independent servers, a majority of which must agree. */
  lockClients: readonly Redis[];
  /** `REDIS_URL`: fencing counters and launched records. May be one of `lockClients`. */
  mainClient: Redis;
  /** Lease length, also the launched record's expiry. */
  ttlMs: number;
  /** Time between renewals; well under `ttlMs`. */
  renewMs: number;
  /** The lease counts as lost this long before it ends. Default: a tenth of the TTL, at most 500 ms. */
  expiryMarginMs?: number;
  logger?: LockLogger;
}

/** A held (user, profile) lock. It renews itself until `release()` or until it is lost. */
export interface HeldLock {
  /** The Redlock resource, `kubescaler:lock:{userId}:{profileId}`. */
  readonly resource: string;
  /** Strictly increasing per pair across all pods (`INCR`); never depends on clocks. */
  readonly fencingToken: number;
  readonly since: Date;
  /** Why the lock was lost; undefined while held and after a voluntary release. */
  readonly lostReason: string | undefined;
  /** True while held and the lease has more than the safety margin left at `now`. */
  isValid(now?: number): boolean;
  /**
   * Calls `listener` once, as soon as the lock is lost (renewal refused or failed, Redis down,
   * record taken over, lease ran out, or revoked at shutdown) — at once if it already was.
   * Never called after a voluntary `release()`. Returns an unsubscribe function.
   */
  onLost(listener: (reason: string) => void): () => void;
  /** Stops renewing and frees the pair (lock and launched record, only if still ours). Idempotent; never throws. */
  release(): Promise<void>;
}

/**
 * The per-(user, profile) distributed try-lock: Redlock over `lockClients`, a fencing token and a
 * launched record on `mainClient`. A busy pair is a 409 `PROFILE_IN_USE`; any failure to decide
 * (Redis down, no quorum, lease already over) is a 503 and leaves nothing held.
 */
export class PairLock {
  private readonly redlock: Redlock;
  private readonly held = new Set<PairHeldLock>();
  private readonly marginMs: number;
  private readonly logger: LockLogger;

  constructor(private readonly options: PairLockOptions) {
    const { ttlMs, renewMs, lockClients } = options;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new Error(`ttlMs must be a positive integer (got ${ttlMs})`);
    this.marginMs = options.expiryMarginMs ?? Math.min(500, Math.floor(ttlMs / 10));
    if (!(renewMs > 0 && renewMs < ttlMs - this.marginMs)) {
      throw new Error(`renewMs must be positive and below ttlMs minus the ${this.marginMs} ms margin (got ${renewMs})`);
    }
    if (lockClients.length === 0) throw new Error('PairLock needs at least one lock client');
    this.logger = options.logger ?? SILENT_LOGGER;
    // retryCount 0 on the instance: try-lock, and every extend/release is a single attempt too.
    this.redlock = new Redlock(lockClients, { retryCount: 0, retryDelay: 0, retryJitter: 0 });
  }

  /** Locks not yet released or lost: the `stream_locks_held` gauge. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Try-locks the pair for `pod`. Throws `PROFILE_IN_USE` (409) when another holder has it and
   * `DEPENDENCY_UNAVAILABLE` (503) when Redis cannot decide; never waits for the pair to free up.
   */
  async acquire(userId: string, profileId: string, { pod }: { pod: string }): Promise<HeldLock> {
    const keys = pairKeys(userId, profileId);
    const { ttlMs } = this.options;
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([keys.lock], ttlMs);
    } catch (error) {
      if ((await classifyAcquireFailure(error)) === 'busy') {
        throw new AppError('PROFILE_IN_USE', 'This profile is already streaming for this user elsewhere');
      }
      throw AppError.dependencyUnavailable('redis', error);
    }

    const since = new Date();
    let fencingToken: number | undefined;
    try {
      if (!this.stillValid(lock)) throw new Error('the lock lease ran out while it was being acquired');
      fencingToken = await createLaunchedRecord(this.options.mainClient, keys, { pod, since }, ttlMs);
      if (!this.stillValid(lock)) throw new Error('the lock lease ran out while the launched record was written');
    } catch (error) {
      await this.releaseQuietly(lock, keys, fencingToken);
      throw AppError.dependencyUnavailable('redis', error);
    }

    const held = new PairHeldLock(keys, fencingToken, since, lock, {
      ttlMs,
      renewMs: this.options.renewMs,
      marginMs: this.marginMs,
      redlock: this.redlock,
      mainClient: this.options.mainClient,
      logger: this.logger,
      onEnd: (ended) => this.held.delete(ended),
      release: (current, token) => this.releaseQuietly(current, keys, token),
    });
    this.held.add(held);
    held.start();
    if (held.lostReason !== undefined) {
      await held.release();
      throw AppError.dependencyUnavailable('redis', new Error(held.lostReason));
    }
    return held;
  }

  /** Revokes every held lock (their `onLost` fires with `reason`) and frees them. For shutdown. */
  async releaseAll(reason = 'the lock service is shutting down'): Promise<void> {
    await Promise.all([...this.held].map((held) => held.revoke(reason)));
  }

  private stillValid(lock: Lock): boolean {
    return lock.expiration - this.marginMs > Date.now();
  }

  /** Best effort: the lock may already be expired or taken, the record may be someone else's. */
  private async releaseQuietly(lock: Lock, keys: PairKeys, fencingToken: number | undefined): Promise<void> {
    const results = await Promise.allSettled([
      this.redlock.release(lock, { retryCount: 0 }),
      fencingToken === undefined
        ? Promise.resolve(true)
        : deleteLaunchedRecord(this.options.mainClient, keys.launched, fencingToken),
    ]);
    for (const result of results) {
      if (result.status === 'rejected') {
        this.logger.debug(`release of ${keys.lock} incomplete (it expires by itself): ${describe(result.reason)}`);
      }
    }
  }
}

interface HeldLockDeps {
  ttlMs: number;
  renewMs: number;
  marginMs: number;
  redlock: Redlock;
  mainClient: Redis;
  logger: LockLogger;
  onEnd: (held: PairHeldLock) => void;
  release: (lock: Lock, fencingToken: number) => Promise<void>;
}

class PairHeldLock implements HeldLock {
  private readonly keeper: LeaseKeeper;
  private readonly listeners = new Set<(reason: string) => void>();
  private lock: Lock;
  private released: Promise<void> | undefined;
  lostReason: string | undefined;

  constructor(
    private readonly keys: PairKeys,
    readonly fencingToken: number,
    readonly since: Date,
    lock: Lock,
    private readonly deps: HeldLockDeps,
  ) {
    this.lock = lock;
    this.keeper = new LeaseKeeper({
      renewMs: deps.renewMs,
      marginMs: deps.marginMs,
      expiresAt: lock.expiration,
      renew: () => this.renew(),
      onLost: (reason) => this.handleLost(reason),
    });
  }

  get resource(): string {
    return this.keys.lock;
  }

  start(): void {
    this.keeper.start();
  }

  isValid(now?: number): boolean {
    return this.keeper.isValid(now);
  }

  onLost(listener: (reason: string) => void): () => void {
    const reason = this.lostReason;
    if (reason !== undefined) {
      queueMicrotask(() => listener(reason));
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  release(): Promise<void> {
    this.keeper.stop();
    return this.finish();
  }

  revoke(reason: string): Promise<void> {
    this.keeper.lose(reason);
    return this.finish();
  }

  /** One extension, then the record's expiry, both only while still ours. */
  private async renew(): Promise<number> {
    let next: Lock;
    try {
      next = await this.deps.redlock.extend(this.lock, this.deps.ttlMs);
    } catch (error) {
      throw new Error(await explainRedlockFailure(error), { cause: error });
    }
    this.lock = next;
    if (this.released) throw new Error('released while renewing');
    const ours = await refreshLaunchedRecord(
      this.deps.mainClient,
      this.keys.launched,
      this.fencingToken,
      this.deps.ttlMs,
    );
    if (!ours) throw new Error('the launched record is gone or belongs to another holder');
    return next.expiration;
  }

  private handleLost(reason: string): void {
    this.lostReason = reason;
    this.deps.logger.warn(`lock ${this.keys.lock} (fencing token ${this.fencingToken}) lost: ${reason}`);
    // Off the held count before anyone hears of the loss, and freed in the background.
    void this.finish();
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        this.deps.logger.warn(`onLost listener of ${this.keys.lock} threw: ${describe(error)}`);
      }
    }
  }

  private finish(): Promise<void> {
    this.released ??= (async () => {
      this.deps.onEnd(this);
      await this.deps.release(this.lock, this.fencingToken);
    })();
    return this.released;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
