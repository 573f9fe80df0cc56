import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '@app/errors';
import { type LeaseKeys, type PairKeys, pairKeys } from './keys.js';
import { launchedRecordPrefix, serializeLaunchedRecord } from './launched-record.js';
import { LeaseRenewals, type RenewalAnswer } from './lease-renewals.js';
import { type AcquireAnswer, LockServer } from './lock-server.js';
import { decideMajority, gather, type MajorityAnswer, onMajority, quorumOf } from './quorum.js';
import { type LockLogger, SILENT_LOGGER } from './redis-client.js';

export interface PairLockOptions {
  /** The lock servers (`REDIS_LOCK_URLS`): independent Redis, a majority of which must agree. */
  lockClients: readonly Redis[];
  /** Lease length, also the launched record's expiry and a restarted server's quarantine. */
  ttlMs: number;
  /** Time between renewals; well under `ttlMs`. */
  renewMs: number;
  /** The lease counts as lost this long before it ends. Default: a tenth of the TTL, at most 500 ms. */
  expiryMarginMs?: number;
  logger?: LockLogger;
  /** Monotonic clock in ms (default `performance.now()`); only tests replace it. */
  now?: () => number;
}

/** A held (user, profile) lock. It renews itself until `release()` or until it is lost. */
export interface HeldLock {
  /** The lock key, `kubescaler:lock:{userId}:{profileId}`. */
  readonly resource: string;
  /** Strictly increasing per pair, also across a lock server that lost its data (see docs/lock.md). */
  readonly fencingToken: number;
  /** Wall-clock time of the acquisition (shown to users; never used to decide anything). */
  readonly since: Date;
  /** Why the lock was lost; undefined while held and after a voluntary release. */
  readonly lostReason: string | undefined;
  /** True while held and more than the safety margin of the lease is left at `now` (monotonic ms, default `performance.now()`). */
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

type Grant =
  | { readonly kind: 'acquired'; readonly fencingToken: number }
  | { readonly kind: 'busy' | 'unavailable'; readonly reason: string };

/**
 * Decides a try-lock from the servers' answers so far: acquired once a majority of servers that
 * may vote granted it (fencing token: the highest value any granting server handed out); busy
 * when a majority said locked; otherwise unavailable, once the answers still out cannot change it.
 */
export function decideAcquire(answers: readonly AcquireAnswer[], pending: number, members: number): Grant | undefined {
  const quorum = quorumOf(members);
  const granted = answers.filter((answer) => answer.kind === 'granted');
  const counted = granted.filter((answer) => answer.counts).length;
  if (counted >= quorum) return { kind: 'acquired', fencingToken: Math.max(...granted.map((answer) => answer.fence)) };
  const busy = answers.filter((answer) => answer.kind === 'busy').length;
  if (counted + pending >= quorum) return undefined;
  if (busy >= quorum) return { kind: 'busy', reason: `${busy} of ${members} lock servers hold the pair` };
  if (busy + pending >= quorum) return undefined;
  const reasons = answers.map((answer) =>
    answer.kind === 'refused'
      ? answer.reason
      : answer.kind === 'busy'
        ? 'locked'
        : 'granted, but it restarted or lost its data less than a lease ago',
  );
  return { kind: 'unavailable', reason: `no majority of ${members} lock servers: ${[...new Set(reasons)].join('; ')}` };
}

/**
 * The per-(user, profile) distributed try-lock: Redlock over the lock servers, done by this
 * class so that a server that restarted or lost its data less than a lease ago does not vote
 * (`Incarnation`), the fencing token survives data loss, and the launched record lives on the lock
 * servers too. Steps, each one script per server, in parallel: try-lock (and the next fencing
 * value) → confirm on a majority (high-water mark and record) → renew → release. Ownership is
 * the holder's unique random value everywhere. A busy pair is a 409 `PROFILE_IN_USE`; anything
 * that leaves it undecided is a 503 and leaves nothing held. Deadlines are monotonic.
 */
export class PairLock {
  private readonly servers: readonly LockServer[];
  /** Every held lock, renewed together: one round trip per lock server per renewal round. */
  private readonly renewals: LeaseRenewals<PairHeldLock>;
  private readonly marginMs: number;
  private readonly driftMs: number;
  private readonly logger: LockLogger;
  private readonly now: () => number;

  constructor(private readonly options: PairLockOptions) {
    const { ttlMs, renewMs, lockClients } = options;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new Error(`ttlMs must be a positive integer (got ${ttlMs})`);
    this.marginMs = options.expiryMarginMs ?? Math.min(500, Math.floor(ttlMs / 10));
    if (!(renewMs > 0 && renewMs < ttlMs - this.marginMs)) {
      throw new Error(`renewMs must be positive and below ttlMs minus the ${this.marginMs} ms margin (got ${renewMs})`);
    }
    if (lockClients.length === 0) throw new Error('PairLock needs at least one lock client');
    if (new Set(lockClients).size !== lockClients.length) throw new Error('PairLock got the same lock client twice');
    this.logger = options.logger ?? SILENT_LOGGER;
    this.now = options.now ?? (() => performance.now());
    // Redis expires keys with 1 ms precision, and its clock may run a little faster than ours.
    this.driftMs = Math.round(ttlMs * 0.01) + 2;
    this.servers = lockClients.map((client) => new LockServer(client, ttlMs, this.logger, this.now));
    this.renewals = new LeaseRenewals<PairHeldLock>({
      renewMs,
      marginMs: this.marginMs,
      now: this.now,
      renew: (leases) => this.renewMany(leases),
      onLost: (lease, reason) => lease.lost(reason),
    });
  }

  /** Locks not yet released or lost: the `stream_locks_held` gauge. */
  get heldCount(): number {
    return this.renewals.size;
  }

  /** Lock servers whose "free" counts right now (identified, not in quarantine). */
  get votingServers(): number {
    return this.servers.filter((server) => server.canVote()).length;
  }

  /** How many lock servers must agree. */
  get quorum(): number {
    return quorumOf(this.servers.length);
  }

  /**
   * Try-locks the pair for `pod`. Throws `PROFILE_IN_USE` (409) when another holder has it and
   * `DEPENDENCY_UNAVAILABLE` (503) when the lock servers cannot decide; never waits for the pair to free up.
   *
   * `session` names the client session the stream serves. A pair held for the same session is
   * taken over (with a new, higher fencing token): that session's client reconnected, so the
   * holder streams to a dead connection, whose renewal now fails. Another session is busy.
   */
  async acquire(
    userId: string,
    profileId: string,
    { pod, session = '' }: { pod: string; session?: string },
  ): Promise<HeldLock> {
    const keys = pairKeys(userId, profileId);
    const { ttlMs } = this.options;
    const owner = randomBytes(16).toString('hex');
    const startedAt = this.now();
    const since = new Date();
    // The pod's wall clock is only the fencing floor (after data loss); the order is the counter's.
    const prefix = launchedRecordPrefix({ pod, since, owner, session });
    const attempts = this.servers.map((server) => server.acquire(keys, owner, ttlMs, since.getTime(), prefix, session));
    const grant = await gather(attempts, (answers, pending) => decideAcquire(answers, pending, this.servers.length));
    if (grant.kind !== 'acquired') {
      await this.releaseEverywhere(keys, owner);
      if (grant.kind === 'busy') {
        throw AppError.of('PROFILE_IN_USE');
      }
      throw AppError.dependencyUnavailable('redis', new Error(grant.reason));
    }

    const { fencingToken } = grant;
    const confirmed = await this.confirm(keys, owner, fencingToken, { pod, since, session }, attempts);
    const expiresAt = startedAt + ttlMs - this.driftMs;
    const problem =
      confirmed !== true
        ? `the fencing token could not be confirmed: ${confirmed}`
        : this.now() >= expiresAt - this.marginMs
          ? 'the lock lease ran out while it was being acquired'
          : undefined;
    if (problem) {
      await this.releaseEverywhere(keys, owner);
      throw AppError.dependencyUnavailable('redis', new Error(problem));
    }

    // Only the two keys a renewal and the release name are kept (not the pair's other five).
    const leaseKeys: LeaseKeys = { lock: keys.lock, launched: keys.launched };
    const held = new PairHeldLock(this, leaseKeys, owner, fencingToken, since, expiresAt);
    this.renewals.add(held);
    if (held.lostReason !== undefined) {
      await held.release();
      throw AppError.dependencyUnavailable('redis', new Error(held.lostReason));
    }
    return held;
  }

  /** Revokes every held lock (their `onLost` fires with `reason`) and frees them. For shutdown. */
  async releaseAll(reason = 'the lock service is shutting down'): Promise<void> {
    await Promise.all(this.renewals.leases().map((held) => held.revoke(reason)));
  }

  /** Whether `held` is still held (renewed) and has its margin left at `now`. @internal */
  isHeldValid(held: PairHeldLock, now?: number): boolean {
    return this.renewals.isValid(held, now);
  }

  /** Stops renewing `held` (released) or declares it lost (revoked). @internal */
  endHeld(held: PairHeldLock, lostReason?: string): void {
    if (lostReason === undefined) this.renewals.remove(held);
    else this.renewals.lose(held, lostReason);
  }

  /** Frees `held`'s pair on every server; resolves once a majority freed it. @internal */
  releaseHeld(held: PairHeldLock): Promise<void> {
    return this.releaseEverywhere(held.keys, held.owner, 'majority');
  }

  /** Logs a held lock's loss. @internal */
  logLoss(text: string): void {
    this.logger.warn(text);
  }

  /** Stops watching the servers' connections (the caller closes the clients). */
  close(): void {
    for (const server of this.servers) server.close();
  }

  /**
   * Resolves once a majority holds the token as its high-water mark and in the launched record: a
   * server whose own grant carried the token already does (the usual case, all at the floor); one
   * that granted less gets CONFIRM, also when its answer comes after the majority was reached.
   */
  private confirm(
    keys: PairKeys,
    owner: string,
    fencingToken: number,
    record: { pod: string; since: Date; session: string },
    attempts: readonly Promise<AcquireAnswer>[],
  ): Promise<true | string> {
    const json = serializeLaunchedRecord({ ...record, fencingToken, owner });
    return onMajority(
      this.servers.map((server, index) =>
        attempts[index]!.then((answer): MajorityAnswer | Promise<MajorityAnswer> => {
          if (answer.kind === 'granted') {
            return answer.fence === fencingToken ? { ok: true } : server.confirm(keys, owner, fencingToken, json);
          }
          return { ok: false, reason: answer.kind === 'busy' ? 'locked there' : answer.reason };
        }),
      ),
    );
  }

  /**
   * One renewal round: lock and record of every lease extended on each server in ONE pipelined
   * round trip; a lease is renewed once a majority extended it, and fails once that cannot
   * happen. Resolves when every lease is decided (a slow minority is not waited for).
   */
  private async renewMany(leases: readonly PairHeldLock[]): Promise<readonly RenewalAnswer[]> {
    const startedAt = this.now();
    const renewed = startedAt + this.options.ttlMs - this.driftMs;
    const members = this.servers.length;
    const rounds = this.servers.map((server) => server.extendMany(leases, this.options.ttlMs));
    return gather(rounds, (answers, pending) => {
      const verdicts: RenewalAnswer[] = [];
      for (let index = 0; index < leases.length; index++) {
        const verdict = decideMajority(
          answers.map((answer) => answer[index]!),
          pending,
          members,
        );
        if (verdict === undefined) return undefined;
        verdicts.push(verdict === true ? renewed : { failed: verdict });
      }
      return verdicts;
    });
  }

  /**
   * Best effort on every server: the lock may be expired or taken, the record someone else's.
   * A held lock's release resolves once a majority freed it — the pair is free then — and the
   * rest finish in the background; a refused acquisition waits for every server.
   */
  private async releaseEverywhere(keys: LeaseKeys, owner: string, wait: 'all' | 'majority' = 'all'): Promise<void> {
    const answers = this.servers.map((server) => server.release(keys, owner));
    void Promise.all(answers).then((all) => {
      const failed = all.flatMap((answer) => (answer.ok ? [] : [answer.reason]));
      if (failed.length > 0) {
        this.logger.debug(`release of ${keys.lock} incomplete (it expires by itself): ${failed.join('; ')}`);
      }
    });
    await (wait === 'all' ? Promise.all(answers) : onMajority(answers));
  }
}

/**
 * One held pair: its keys, owner value and lease end, and its loss listeners. The schedule is
 * the lock's (`LeaseRenewals`, shared by every held lock), so a held lock has no timer or closure
 * of its own.
 */
class PairHeldLock implements HeldLock {
  /** The lease's end on the monotonic clock, moved by each renewal round. */
  expiresAt: number;
  /** One listener (the usual case) or several. */
  private listeners: ((reason: string) => void) | ((reason: string) => void)[] | undefined;
  private released: Promise<void> | undefined;
  lostReason: string | undefined;

  constructor(
    private readonly lock: PairLock,
    readonly keys: LeaseKeys,
    readonly owner: string,
    readonly fencingToken: number,
    readonly since: Date,
    expiresAt: number,
  ) {
    this.expiresAt = expiresAt;
  }

  get resource(): string {
    return this.keys.lock;
  }

  isValid(now?: number): boolean {
    return this.released === undefined && this.lock.isHeldValid(this, now);
  }

  onLost(listener: (reason: string) => void): () => void {
    const reason = this.lostReason;
    if (reason !== undefined) {
      queueMicrotask(() => listener(reason));
      return () => undefined;
    }
    if (this.released) return () => undefined;
    const listeners = this.listeners;
    this.listeners =
      listeners === undefined ? listener : Array.isArray(listeners) ? [...listeners, listener] : [listeners, listener];
    return () => {
      const current = this.listeners;
      if (current === listener) this.listeners = undefined;
      else if (Array.isArray(current)) this.listeners = current.filter((other) => other !== listener);
    };
  }

  release(): Promise<void> {
    this.lock.endHeld(this);
    return this.finish();
  }

  revoke(reason: string): Promise<void> {
    this.lock.endHeld(this, reason);
    return this.finish();
  }

  /** Called once by the renewals when the lease is lost (it has left them already). */
  lost(reason: string): void {
    if (this.released) return;
    this.lostReason = reason;
    this.lock.logLoss(`lock ${this.keys.lock} (fencing token ${this.fencingToken}) lost: ${reason}`);
    // Off the held count before anyone hears of the loss, and freed in the background.
    void this.finish();
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners === undefined ? [] : Array.isArray(listeners) ? listeners : [listeners]) {
      try {
        listener(reason);
      } catch (error) {
        this.lock.logLoss(`onLost listener of ${this.keys.lock} threw: ${describe(error)}`);
      }
    }
  }

  private finish(): Promise<void> {
    this.released ??= this.lock.releaseHeld(this);
    return this.released;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
