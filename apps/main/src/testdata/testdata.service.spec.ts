import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaseClient, CreatedProfileDto, CreateProfilesBody, UserDto } from '@app/base-client';
import type { MainConfig } from '@app/config';
import { AppError } from '@app/errors';
import type { JobStore } from './job-store.js';
import type { CreateTestdata, TestdataJob } from './testdata.dto.js';
import { TestdataService } from './testdata.service.js';

const tick = () => new Promise((done) => setImmediate(done));

/** base's bulk endpoints from memory; each call takes a few event-loop turns. */
class FakeBase {
  users = 0;
  readonly profiles: { name: string; newUsers: string[]; userIds: string[] }[] = [];
  readonly ranked: string[] = [];
  inFlight = 0;
  peakInFlight = 0;
  batchCalls = 0;
  failBatch: number | undefined;
  onBatch: (call: number) => void = () => undefined;

  async createUsers(names: readonly string[]): Promise<UserDto[]> {
    await tick();
    return names.map((name) => ({ id: `u${this.users++}`, name, createdAt: '' }));
  }

  async createProfiles(body: CreateProfilesBody): Promise<CreatedProfileDto[]> {
    const call = ++this.batchCalls;
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      for (let i = 0; i < 3; i++) await tick();
      this.onBatch(call);
      if (call === this.failBatch) throw AppError.dependencyUnavailable('cassandra');
      assert.equal(body.rank, false, 'bulk batches leave the ranking to the end');
      return body.profiles.map((p) => {
        this.profiles.push({ name: p.name, newUsers: [...p.newUsers], userIds: [...p.userIds] });
        return {
          id: `p${this.profiles.length - 1}`,
          name: p.name,
          newUserIds: p.newUsers.map(() => `u${this.users++}`),
        };
      });
    } finally {
      this.inFlight--;
    }
  }

  async rankUsers(userIds: readonly string[]): Promise<void> {
    this.ranked.push(...userIds);
  }
}

/** The Redis job store from memory. */
class FakeStore {
  running: string | undefined;
  saved: TestdataJob[] = [];
  cancel: string | undefined;
  async claim(id: string) {
    if (this.running) return false;
    this.running = id;
    return true;
  }
  async renew(id: string) {
    return this.running === id;
  }
  async release(id: string) {
    if (this.running === id) this.running = undefined;
  }
  async save(job: TestdataJob) {
    this.saved.push(structuredClone(job));
  }
  async load() {
    return this.saved.at(-1);
  }
  async requestCancel(id: string) {
    this.cancel = id;
  }
  async cancelRequested(id: string) {
    return this.cancel === id;
  }
}

function service(base = new FakeBase(), store = new FakeStore()) {
  const sut = new TestdataService(
    base as unknown as BaseClient,
    store as unknown as JobStore,
    { podName: 'main-1' } as MainConfig,
  );
  return { sut, base, store };
}

const request = (over: Partial<CreateTestdata> = {}): CreateTestdata => ({
  profiles: 100,
  usersPerProfile: 30,
  sharedUsers: 10,
  seed: 7,
  wait: true,
  ...over,
});

describe(TestdataService.name, () => {
  it('binds every profile to every shared user, gives each its own users, and ranks the shared users at the end', async () => {
    const { sut, base, store } = service();
    const { job, done } = await sut.start(request());
    assert.equal(job.state, 'running');
    assert.deepEqual(job.planned, { users: 3010, profiles: 100 });
    const summary = await done;
    assert.equal(summary.users, 3010);
    assert.equal(summary.profiles, 100);
    assert.equal(summary.seed, 7);
    assert.equal(summary.sharedUserIds.length, 10);
    assert.equal(base.profiles.length, 100);
    assert.ok(base.profiles.every((p) => p.newUsers.length === 30 && p.userIds.length === 10));
    assert.deepEqual(new Set(base.profiles.flatMap((p) => p.userIds)), new Set(summary.sharedUserIds));
    assert.deepEqual(base.ranked, summary.sharedUserIds);
    assert.equal(summary.examples.length, 5);
    const last = store.saved.at(-1)!;
    assert.equal(last.state, 'done');
    assert.deepEqual(last.created, { users: 3010, profiles: 100 });
    assert.equal(store.running, undefined, 'the slot is free again');
  });

  it('keeps at most 4 batches in flight, more than one at a time', async () => {
    const { sut, base } = service();
    await (
      await sut.start(request({ profiles: 2000, usersPerProfile: 100, sharedUsers: 0 }))
    ).done;
    assert.ok(base.batchCalls > 4, `${base.batchCalls} batches`);
    assert.equal(base.peakInFlight, 4);
  });

  it('refuses a second creation while one runs: 429 with Retry-After', async () => {
    const { sut } = service();
    const first = await sut.start(request());
    await assert.rejects(sut.start(request()), (error: AppError) => {
      assert.equal(error.code, 'TESTDATA_BUSY');
      assert.equal(error.status, 429);
      assert.equal(error.retryAfterSeconds, 5);
      assert.deepEqual(error.details, { jobId: first.job.id });
      return true;
    });
    await assert.rejects(sut.dropAll(), (error: AppError) => error.code === 'TESTDATA_BUSY');
    await first.done;
  });

  it('stops after a failed batch, starts no other, and says what was created', async () => {
    const base = new FakeBase();
    base.failBatch = 3;
    const { sut, store } = service(base);
    const { done } = await sut.start(request({ profiles: 2000, usersPerProfile: 100, sharedUsers: 2 }));
    await assert.rejects(done, (error: AppError) => {
      assert.equal(error.code, 'TESTDATA_FAILED');
      assert.equal(error.status, 503);
      assert.equal((error.details as { seed: number }).seed, 7);
      return true;
    });
    const last = store.saved.at(-1)!;
    assert.equal(last.state, 'failed');
    assert.ok(base.batchCalls <= 3 + 3, `${base.batchCalls} batches started`);
    assert.equal(last.created.profiles, base.profiles.length);
    assert.match(last.error!, /partly written/);
    assert.equal(store.running, undefined);
  });

  it('stops when cancelled, from this replica or another one through the store', async () => {
    const base = new FakeBase();
    const { sut, store } = service(base);
    base.onBatch = (call) => {
      if (call === 2) void sut.cancel();
    };
    const { done } = await sut.start(request({ profiles: 5000, usersPerProfile: 100, sharedUsers: 0 }));
    await assert.rejects(done, (error: AppError) => error.code === 'TESTDATA_CANCELLED');
    const last = store.saved.at(-1)!;
    assert.equal(last.state, 'cancelled');
    assert.ok(last.created.profiles < 5000);
    assert.equal(store.cancel, last.id);
  });

  it('answers 404 when asked to cancel with nothing running', async () => {
    const { sut } = service();
    await assert.rejects(sut.cancel(), (error: AppError) => error.code === 'NO_TESTDATA_JOB');
  });
});
