import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { BaseClient } from '@app/base-client';
import { type MainConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { JobStore, RUNNING_LEASE_MS } from './job-store.js';
import { type PlannedBatch, TestdataPlan } from './testdata-plan.js';
import {
  type CreateTestdata,
  type ExampleLink,
  exampleLink,
  type TestdataCounts,
  type TestdataJob,
  type TestdataSummary,
} from './testdata.dto.js';

/** `POST /profiles/batch` calls in flight, and how long one may take. */
const BATCHES_IN_FLIGHT = 4;
const BULK_TIMEOUT_MS = 60_000;
/** Shared users made per `POST /users/batch`, and re-ranked per `POST /users/rank`. */
const USERS_PER_CALL = 1000;
/** Progress is saved (and the cancel flag read) at most this often; the suggestions follow every 10 s. */
const PROGRESS_EVERY_MS = 500;
const RERANK_EVERY_MS = 10_000;
const EXAMPLES = 5;
/** Shared user ids a summary lists. */
const SUMMARY_SHARED_IDS = 100;
/** What a refused caller is told to wait before asking again. */
const BUSY_RETRY_AFTER_S = 5;

/** A started creation: its first state, and the summary once it ends (rejects if it fails or is cancelled). */
export interface StartedJob {
  job: TestdataJob;
  done: Promise<TestdataSummary>;
}

@Injectable()
export class TestdataService implements OnApplicationShutdown {
  private readonly logger = new Logger(TestdataService.name);
  /** The job this replica runs, if any. */
  private local: { id: string; stop: boolean; done: Promise<unknown> } | undefined;

  constructor(
    private readonly base: BaseClient,
    private readonly store: JobStore,
    @InjectConfig() private readonly config: MainConfig,
  ) {}

  /**
   * Starts a creation as a job (one at a time in the whole deployment, else 429): shared users
   * first, then batches of profiles with their own users, each profile bound to every shared
   * user, 4 batches in flight. Progress goes to Redis as it goes; a cancel request stops new
   * batches; a failure stops new batches and says what was created.
   */
  async start(request: CreateTestdata): Promise<StartedJob> {
    const id = randomUUID();
    await this.claimOrRefuse(id);
    const seed = request.seed ?? randomInt(0, 0xffffffff);
    const plan = new TestdataPlan(seed, request.profiles, request.usersPerProfile, request.sharedUsers);
    const now = new Date().toISOString();
    const job: TestdataJob = {
      id,
      state: 'running',
      pod: this.config.podName,
      request: {
        profiles: request.profiles,
        usersPerProfile: request.usersPerProfile,
        sharedUsers: request.sharedUsers,
        seed,
      },
      planned: { users: plan.totalUsers, profiles: plan.profiles },
      created: { users: 0, profiles: 0 },
      startedAt: now,
      updatedAt: now,
      usersPerSecond: 0,
    };
    try {
      await this.store.save(job);
    } catch (error) {
      await this.store.release(id).catch(() => undefined);
      throw error;
    }
    const local = { id, stop: false, done: Promise.resolve() as Promise<unknown> };
    this.local = local;
    const done = this.run(job, plan, local);
    local.done = done.catch(() => undefined);
    return { job: { ...job }, done };
  }

  /** The latest job's state, from whichever replica runs or ran it. */
  async job(): Promise<TestdataJob> {
    const job = await this.store.load();
    if (!job) throw AppError.of('NO_TESTDATA_JOB');
    return job;
  }

  /** Asks the running job to stop after the batches in flight; answers its state. */
  async cancel(): Promise<TestdataJob> {
    const job = await this.store.load();
    if (!job || job.state !== 'running') throw AppError.of('NO_TESTDATA_JOB');
    await this.store.requestCancel(job.id);
    if (this.local?.id === job.id) this.local.stop = true;
    return job;
  }

  /**
   * How much data there is (maintained counters: O(1)), with a few ready-made stream page links,
   * and the latest creation's state when one ran recently (best effort: Redis down leaves it out).
   */
  async counts(): Promise<TestdataCounts> {
    const [counts, job] = await Promise.all([this.base.counts(), this.store.load().catch(() => undefined)]);
    const examples = counts.examples.map((pair) => exampleLink(pair.userId, pair.profileId));
    return { users: counts.users, profiles: counts.profiles, examples, ...(job ? { job } : {}) };
  }

  /**
   * Drops every profile and every user (base truncates the tables: bounded time whatever the
   * size). Not while a creation runs (429). Live streams keep their locks until they end.
   */
  async dropAll(): Promise<void> {
    const id = `drop-${randomUUID()}`;
    await this.claimOrRefuse(id);
    try {
      await this.base.deleteAllProfiles(BULK_TIMEOUT_MS);
      await this.base.deleteAllUsers(BULK_TIMEOUT_MS);
    } finally {
      await this.store.release(id).catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.local) return;
    this.local.stop = true;
    await this.local.done;
  }

  private async claimOrRefuse(id: string): Promise<void> {
    if (await this.store.claim(id)) return;
    const running = await this.store.load();
    throw AppError.of('TESTDATA_BUSY', {
      jobId: running?.state === 'running' ? running.id : 'a drop',
      retryAfterSeconds: BUSY_RETRY_AFTER_S,
    });
  }

  private async run(job: TestdataJob, plan: TestdataPlan, local: { stop: boolean }): Promise<TestdataSummary> {
    const started = performance.now();
    const examples: ExampleLink[] = [];
    let sharedUserIds: string[] = [];
    let lastSave = 0;
    let lastRerank = performance.now();
    let reranking: Promise<void> | undefined;
    // The slot's lease and the job's record stay alive even while a slow batch holds up progress.
    const lease = setInterval(() => {
      this.store.renew(job.id).catch(() => undefined);
      this.store.save(job).catch(() => undefined);
    }, RUNNING_LEASE_MS / 3);

    const rerank = async () => {
      await this.forChunks(sharedUserIds, (ids) => this.base.rankUsers(ids, BULK_TIMEOUT_MS));
    };
    /** Saves progress, reads the cancel flag and keeps the suggestions moving — at most every 500 ms. */
    const tick = async (force = false) => {
      const now = performance.now();
      job.usersPerSecond = Math.round(job.created.users / Math.max(0.001, (now - started) / 1000));
      job.updatedAt = new Date().toISOString();
      if (!force && now - lastSave < PROGRESS_EVERY_MS) return;
      lastSave = now;
      if (!reranking && sharedUserIds.length > 0 && now - lastRerank >= RERANK_EVERY_MS) {
        lastRerank = now;
        const running = rerank().finally(() => (reranking = undefined));
        running.catch(() => undefined);
        reranking = running;
      }
      await this.store.save(job).catch(() => undefined);
      if (await this.store.cancelRequested(job.id).catch(() => false)) local.stop = true;
    };

    const createBatch = async (batch: PlannedBatch) => {
      const created = await this.base.createProfiles(
        {
          profiles: batch.profiles.map((p) => ({ name: p.name, newUsers: p.userNames, userIds: sharedUserIds })),
          rank: false,
        },
        BULK_TIMEOUT_MS,
      );
      job.created.profiles += created.length;
      job.created.users += created.reduce((n, p) => n + p.newUserIds.length, 0);
      created.forEach((profile, i) => {
        const index = batch.firstProfile + i;
        const userId = profile.newUserIds[0] ?? sharedUserIds[0];
        if (index < EXAMPLES && userId) examples[index] = exampleLink(userId, profile.id);
      });
      await tick();
    };

    try {
      const sharedNames = plan.sharedNames();
      sharedUserIds = (
        await this.forChunks(sharedNames, async (names) => {
          const users = await this.base.createUsers(names, BULK_TIMEOUT_MS);
          job.created.users += users.length;
          return users.map((user) => user.id);
        })
      ).flat();
      await tick(true);
      const batches = plan.batches();
      let failure: { error: unknown } | undefined;
      const worker = async () => {
        for (let next = batches.next(); !next.done && !failure && !local.stop; next = batches.next()) {
          await createBatch(next.value).catch((error: unknown) => {
            failure ??= { error };
          });
        }
      };
      await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, worker));
      await reranking;
      if (sharedUserIds.length > 0 && plan.profiles > 0) await rerank();
      if (failure) throw failure.error;
      const summary: TestdataSummary = {
        seed: plan.seed,
        profiles: job.created.profiles,
        users: job.created.users,
        sharedUserIds: sharedUserIds.slice(0, SUMMARY_SHARED_IDS),
        durationMs: Math.round(performance.now() - started),
        examples: examples.filter(Boolean),
      };
      job.state = local.stop && job.created.profiles < plan.profiles ? 'cancelled' : 'done';
      job.summary = summary;
      if (job.state === 'cancelled') {
        throw AppError.of('TESTDATA_CANCELLED', { created: { ...job.created }, seed: plan.seed });
      }
      return summary;
    } catch (error) {
      if (job.state === 'running') {
        const reason = error instanceof Error ? error.message : String(error);
        job.state = 'failed';
        job.error =
          `${reason}. Whole batches written: ${job.created.users} users, ${job.created.profiles} profiles; ` +
          `batches in flight at the failure may be partly written (GET /main/testdata counts what exists).`;
        this.logger.warn(`test data job ${job.id} failed: ${job.error}`);
        throw AppError.of(
          'TESTDATA_FAILED',
          { created: { ...job.created }, seed: plan.seed, reason },
          { cause: error },
        );
      }
      throw error;
    } finally {
      clearInterval(lease);
      job.finishedAt = new Date().toISOString();
      await tick(true).catch(() => undefined);
      await this.store.release(job.id).catch(() => undefined);
    }
  }

  /** Runs `call` over `items` in chunks of 1,000, one chunk at a time, results in order. */
  private async forChunks<T, R>(items: readonly T[], call: (chunk: T[]) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    for (let i = 0; i < items.length; i += USERS_PER_CALL) results.push(await call(items.slice(i, i + USERS_PER_CALL)));
    return results;
  }
}
