import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppError } from '@app/errors';
import { REDIS_CLIENT } from '@app/lock';
import type { TestdataJob } from './testdata.dto.js';

const KEYS = {
  /** The latest job's state (JSON). */
  job: 'kubescaler:testdata:job',
  /** Held (job id, with a lease) while a creation or a drop runs, on whichever replica. */
  running: 'kubescaler:testdata:running',
  /** The id of a job asked to stop. */
  cancel: 'kubescaler:testdata:cancel',
};
/** A holder that stops renewing (its replica died) frees the slot after this. */
export const RUNNING_LEASE_MS = 15_000;
/** A finished job's state is kept this long. */
const FINISHED_TTL_S = 24 * 3600;

const RENEW_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Test-data jobs in Redis (`REDIS_URL`: best-effort data), so every main replica shows the same
 * progress and at most one creation or drop runs in the whole deployment. Redis down is 503.
 */
@Injectable()
export class JobStore {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  /** Takes the one running slot for `id`; false when another job holds it. */
  async claim(id: string): Promise<boolean> {
    return (await this.run(() => this.redis.set(KEYS.running, id, 'PX', RUNNING_LEASE_MS, 'NX'))) === 'OK';
  }

  /** Extends the slot's lease; false when it is no longer ours. */
  async renew(id: string): Promise<boolean> {
    return (await this.run(() => this.redis.eval(RENEW_IF_OURS, 1, KEYS.running, id, RUNNING_LEASE_MS))) === 1;
  }

  /** Milliseconds until the slot frees itself at the latest (for `Retry-After`). */
  async slotTtlMs(): Promise<number> {
    return Math.max(0, await this.run(() => this.redis.pttl(KEYS.running)));
  }

  async release(id: string): Promise<void> {
    await this.run(() => this.redis.eval(RELEASE_IF_OURS, 1, KEYS.running, id));
  }

  /** Saves the job's state: kept while it runs (renewed with each save), for a day once finished. */
  async save(job: TestdataJob): Promise<void> {
    const ttl = job.state === 'running' ? Math.ceil((RUNNING_LEASE_MS * 4) / 1000) : FINISHED_TTL_S;
    await this.run(() => this.redis.set(KEYS.job, JSON.stringify(job), 'EX', ttl));
  }

  async load(): Promise<TestdataJob | undefined> {
    const text = await this.run(() => this.redis.get(KEYS.job));
    return text ? (JSON.parse(text) as TestdataJob) : undefined;
  }

  async requestCancel(id: string): Promise<void> {
    await this.run(() => this.redis.set(KEYS.cancel, id, 'PX', RUNNING_LEASE_MS * 4));
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.run(() => this.redis.get(KEYS.cancel))) === id;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw AppError.dependencyUnavailable('redis', error);
    }
  }
}
