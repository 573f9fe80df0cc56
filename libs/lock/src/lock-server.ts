import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Incarnation } from './incarnation.js';
import { DATASET_KEY, type LeaseKeys, type PairKeys } from './keys.js';
import { manyKeysArgs, runScript } from './lock-scripts.js';
import type { MajorityAnswer } from './quorum.js';
import { type LockLogger, redisAddress, SILENT_LOGGER } from './redis-client.js';

/** One server's answer to a try-lock. */
export type AcquireAnswer =
  /** It locked the pair for us; `counts` is false while the server may not vote (quarantine). */
  | { readonly kind: 'granted'; readonly fence: number; readonly counts: boolean }
  | { readonly kind: 'busy' }
  /** No vote: not reachable, not identified yet, in quarantine without granting, or it failed. */
  | { readonly kind: 'refused'; readonly reason: string };

/** The extend script's refusals. */
const EXTEND_REFUSALS: Record<number, string> = {
  0: 'the lock is no longer ours',
  2: 'the launched record is gone or belongs to another holder',
};
const OK: MajorityAnswer = { ok: true };

/** How long to wait before asking a server that did not answer its identity check again. */
const IDENTIFY_RETRY_MS = 1000;

/**
 * One Redlock member: its fail-fast client, the lock scripts, and what is known of the server's
 * incarnation. Whenever a connection becomes ready it asks the server who it is (`INFO server`
 * `run_id` and `uptime_in_seconds`, and the data-set id) before any answer of its counts. Never
 * throws: every failure is an answer.
 */
export class LockServer {
  readonly incarnation: Incarnation;
  private identifying: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly client: Redis,
    leaseMs: number,
    private readonly logger: LockLogger = SILENT_LOGGER,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.incarnation = new Incarnation(leaseMs);
    // Listeners run synchronously when the status changes, before any command can use the new connection.
    client.on('ready', this.onReady);
    client.on('close', this.onClose);
    if (client.status === 'ready') this.onReady();
  }

  get address(): string {
    return redisAddress(this.client);
  }

  /** True when this server's "free" counts towards a quorum now. */
  canVote(): boolean {
    return this.incarnation.canVote(this.now());
  }

  /** Try-lock; `floorMs`, `recordPrefix` and `session` as the acquire script takes them (see lock-scripts.ts). */
  async acquire(
    keys: PairKeys,
    owner: string,
    ttlMs: number,
    floorMs: number,
    recordPrefix: string,
    session = '',
  ): Promise<AcquireAnswer> {
    const dataset = this.incarnation.datasetId ?? (await this.identified());
    if (dataset === undefined) {
      const why =
        this.client.status === 'ready' ? 'its identity is not known yet' : `not connected (${this.client.status})`;
      return { kind: 'refused', reason: `${this.address}: ${why}` };
    }
    let reply: unknown;
    try {
      reply = await runScript(
        this.client,
        'kubescalerAcquire',
        keys.lock,
        keys.fence,
        DATASET_KEY,
        keys.launched,
        owner,
        ttlMs,
        dataset,
        floorMs,
        recordPrefix,
        session,
      );
    } catch (error) {
      return { kind: 'refused', reason: describe(error) };
    }
    if (reply === 0) return { kind: 'busy' };
    if (reply === -1) {
      this.incarnation.datasetChanged(this.now());
      this.logger.warn(`lock server ${this.address} lost its data set: it does not vote for one lease`);
      this.identify();
      return { kind: 'refused', reason: `${this.address} lost its data` };
    }
    if (typeof reply !== 'number' || !Number.isSafeInteger(reply) || reply < 1) {
      return { kind: 'refused', reason: `unexpected answer ${String(reply)} from ${this.address}` };
    }
    return { kind: 'granted', fence: reply, counts: this.canVote() };
  }

  async confirm(keys: PairKeys, owner: string, fencingToken: number, record: string): Promise<MajorityAnswer> {
    return this.ownerStep('kubescalerConfirm', [keys.lock, keys.fence, keys.launched, owner, fencingToken, record], {
      0: 'the lock is not ours there',
    });
  }

  async extend(keys: LeaseKeys, owner: string, ttlMs: number): Promise<MajorityAnswer> {
    return this.ownerStep('kubescalerExtend', [keys.lock, keys.launched, owner, ttlMs], EXTEND_REFUSALS);
  }

  /**
   * Renews many leases in ONE round trip: one call of the extend-many script, not a command per
   * lease (a command's objects live until its answer). Resolves with one answer per lease, in
   * order; never rejects (a failed round trip fails every lease).
   */
  async extendMany(leases: readonly { keys: LeaseKeys; owner: string }[], ttlMs: number): Promise<MajorityAnswer[]> {
    if (leases.length === 0) return [];
    const keys = leases.flatMap(({ keys }) => [keys.lock, keys.launched]);
    const owners = leases.map(({ owner }) => owner);
    let replies: unknown;
    try {
      replies = await runScript(this.client, 'kubescalerExtendMany', ...manyKeysArgs(keys, ttlMs, owners));
    } catch (error) {
      const failed = { ok: false as const, reason: `${this.address}: ${describe(error)}` };
      return leases.map(() => failed);
    }
    const answers = Array.isArray(replies) ? (replies as unknown[]) : [];
    return leases.map((_, index) => {
      const reply = answers[index];
      if (reply === 1) return OK;
      if (reply === undefined) return { ok: false, reason: `${this.address}: no answer` };
      if (reply === -1) return { ok: false, reason: `${this.address}: the renewal script failed on its keys` };
      return { ok: false, reason: EXTEND_REFUSALS[reply as number] ?? `unexpected answer ${String(reply)}` };
    });
  }

  async release(keys: LeaseKeys, owner: string): Promise<MajorityAnswer> {
    return this.ownerStep('kubescalerRelease', [keys.lock, keys.launched, owner], {});
  }

  /** Stops listening to the client (which the caller closes). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.client.off('ready', this.onReady);
    this.client.off('close', this.onClose);
  }

  private async ownerStep(
    name: 'kubescalerConfirm' | 'kubescalerExtend' | 'kubescalerRelease',
    args: (string | number)[],
    refusals: Record<number, string>,
  ): Promise<MajorityAnswer> {
    try {
      const reply = await runScript(this.client, name, ...args);
      if (reply === 1 || name === 'kubescalerRelease') return { ok: true };
      return { ok: false, reason: refusals[reply as number] ?? `unexpected answer ${String(reply)}` };
    } catch (error) {
      return { ok: false, reason: `${this.address}: ${describe(error)}` };
    }
  }

  /** The data-set id to check against, once an identification in flight is done. */
  private async identified(): Promise<string | undefined> {
    if (this.incarnation.datasetId === undefined && this.client.status === 'ready') this.identify();
    await this.identifying;
    return this.incarnation.datasetId;
  }

  private readonly onReady = (): void => {
    this.incarnation.forget();
    this.identifying = undefined;
    this.identify();
  };

  private readonly onClose = (): void => {
    this.incarnation.forget();
  };

  private identify(): void {
    if (this.identifying || this.closed) return;
    clearTimeout(this.retry);
    const run: Promise<void> = this.askIdentity().finally(() => {
      if (this.identifying === run) this.identifying = undefined;
    });
    this.identifying = run;
  }

  private async askIdentity(): Promise<void> {
    try {
      const reply = await runScript(this.client, 'kubescalerIdentify', DATASET_KEY, randomBytes(16).toString('hex'));
      const [runId, uptimeS, dataset, created] = reply as [string, number, string, number];
      if (!runId || !dataset) throw new Error(`unexpected identity ${JSON.stringify(reply)}`);
      this.incarnation.observe({ runId, uptimeMs: uptimeS * 1000, dataset, datasetCreated: created === 1 }, this.now());
      const left = this.incarnation.quarantineLeftMs(this.now());
      if (left > 0) {
        this.logger.warn(
          `lock server ${this.address} (run ${runId.slice(0, 8)}, up ${uptimeS} s${created === 1 ? ', new data set' : ''}) ` +
            `may have lost locks: it does not vote for ${Math.ceil(left)} ms`,
        );
      }
    } catch (error) {
      this.logger.warn(`cannot identify lock server ${this.address}: ${describe(error)}`);
      if (this.client.status === 'ready' && !this.closed) {
        this.retry = setTimeout(() => this.identify(), IDENTIFY_RETRY_MS);
        this.retry.unref();
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
