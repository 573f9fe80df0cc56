import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaseClient, ProfileDto, UserDto } from '@app/base-client';
import { AppError } from '@app/errors';
import type { CreateTestdata } from './testdata.dto.js';
import { TestdataService } from './testdata.service.js';

const CREATED_AT = '2026-01-01T00:00:00.000Z';

/** base's write and list calls, from memory; each call takes `delay(n)` event-loop turns. */
class FakeBase {
  readonly users: UserDto[] = [];
  readonly profiles: ProfileDto[] = [];
  readonly calls: string[] = [];
  inFlight = 0;
  peakInFlight = 0;
  userCalls = 0;
  /** The n-th createUser call (1-based) that fails, if any. */
  failUserCall: number | undefined;

  constructor(private readonly delay: (call: number) => number = () => 1) {}

  async createUser(name: string): Promise<UserDto> {
    const call = ++this.userCalls;
    return this.busy(call, () => {
      if (call === this.failUserCall) throw AppError.dependencyUnavailable('cassandra');
      const user = { id: `u${this.users.length}`, name, createdAt: CREATED_AT };
      this.users.push(user);
      return user;
    });
  }

  async createProfile(name: string, userIds: readonly string[]): Promise<ProfileDto> {
    return this.busy(this.calls.length, () => {
      const profile = { id: `p${this.profiles.length}`, name, userIds: [...userIds], createdAt: CREATED_AT };
      this.profiles.push(profile);
      return profile;
    });
  }

  async *allUsers(): AsyncGenerator<UserDto> {
    yield* this.users;
  }

  async *allProfiles(): AsyncGenerator<ProfileDto> {
    yield* this.profiles;
  }

  async deleteAllProfiles(): Promise<void> {
    this.calls.push('deleteAllProfiles');
  }

  async deleteAllUsers(): Promise<void> {
    this.calls.push('deleteAllUsers');
  }

  private async busy<T>(call: number, work: () => T): Promise<T> {
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      for (let turns = this.delay(call); turns > 0; turns--) await new Promise((done) => setImmediate(done));
      return work();
    } finally {
      this.inFlight--;
    }
  }
}

function service(base: FakeBase): TestdataService {
  return new TestdataService(base as unknown as BaseClient);
}

function request(overrides: Partial<CreateTestdata> = {}): CreateTestdata {
  return { profiles: 3, usersPerProfile: 2, sharedUsers: 2, seed: 7, ...overrides };
}

/** Each profile's name with the names of its users, as a comparable set. */
function layout(base: FakeBase): string[] {
  const names = new Map(base.users.map((user) => [user.id, user.name]));
  return base.profiles
    .map(
      (p) =>
        `${p.name}: ${p.userIds
          .map((id) => names.get(id))
          .sort()
          .join(', ')}`,
    )
    .sort();
}

describe(TestdataService.name, () => {
  it('gives every profile its own users plus every shared user, and says what it made', async () => {
    const base = new FakeBase();
    const sut = service(base);
    const summary = await sut.create(request());
    assert.deepEqual([summary.seed, summary.profiles, summary.users], [7, 3, 8]);
    assert.equal(base.users.length, 8);
    assert.deepEqual(summary.sharedUserIds.sort(), ['u0', 'u1']);
    for (const profile of base.profiles) {
      assert.equal(profile.userIds.length, 4, profile.name);
      assert.deepEqual(profile.userIds.slice(2).sort(), ['u0', 'u1'], `${profile.name} has every shared user`);
    }
    const ownUsers = base.profiles.flatMap((p) => p.userIds.slice(0, 2));
    assert.equal(new Set(ownUsers).size, 6, 'no two profiles share an own user');
    assert.equal(summary.examples.length, 3);
    for (const example of summary.examples) {
      const profile = base.profiles.find((p) => p.id === example.profileId)!;
      assert.equal(example.userId, profile.userIds[0]);
      assert.equal(example.link, `/index/${example.userId}/${example.profileId}`);
    }
  });

  it('draws the same names for the same seed, in whatever order base answers', async () => {
    const inOrder = new FakeBase();
    await service(inOrder).create(request({ seed: 42 }));
    const shuffled = new FakeBase((call) => (call * 7) % 5);
    await service(shuffled).create(request({ seed: 42 }));
    assert.deepEqual(layout(shuffled), layout(inOrder));
    const other = new FakeBase();
    await service(other).create(request({ seed: 43 }));
    assert.notDeepEqual(layout(other), layout(inOrder));
  });

  it('picks a seed when none is given, and reports it', async () => {
    const sut = service(new FakeBase());
    const { seed } = await sut.create(request({ seed: undefined }));
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, String(seed));
  });

  it('with shared users only, links examples to a shared user', async () => {
    const base = new FakeBase();
    const summary = await service(base).create(request({ profiles: 2, usersPerProfile: 0, sharedUsers: 1 }));
    assert.deepEqual(
      summary.examples.map((e) => e.userId),
      ['u0', 'u0'],
    );
  });

  it('keeps at most 32 calls to base in flight, and more than one profile at a time', async () => {
    const base = new FakeBase(() => 3);
    await service(base).create(request({ profiles: 10, usersPerProfile: 20, sharedUsers: 0 }));
    assert.ok(base.peakInFlight <= 32, `peak ${base.peakInFlight}`);
    assert.ok(base.peakInFlight > 8, `peak ${base.peakInFlight}: profiles were built one at a time`);
  });

  it('starts no further profile after a failure and answers 503 with what it created and the seed', async () => {
    const base = new FakeBase();
    base.failUserCall = 5;
    const sut = service(base);
    const plan = request({ profiles: 10, usersPerProfile: 10, sharedUsers: 2 });
    const error = await sut.create(plan).then(
      () => assert.fail('created everything'),
      (error: unknown) => error,
    );
    assert.ok(error instanceof AppError);
    assert.deepEqual([error.status, error.code, error.retryAfterSeconds], [503, 'DEPENDENCY_UNAVAILABLE', 1]);
    assert.deepEqual(error.details, { created: { users: base.users.length, profiles: base.profiles.length }, seed: 7 });
    assert.match(
      error.message,
      new RegExp(
        `^Test data creation stopped after ${base.users.length} users and ${base.profiles.length} profiles: cassandra is unavailable`,
      ),
    );
    // The profiles already being built finish their own users; no further profile is started.
    assert.ok(base.userCalls <= 2 + 4 * 10, `${base.userCalls} of 102 users were asked for`);
    assert.ok(base.profiles.length < 4, `${base.profiles.length} profiles`);
  });

  it('counts every user and profile page by page, with links to the first five profiles that have a user', async () => {
    const base = new FakeBase();
    for (let i = 0; i < 8; i++) {
      base.users.push({ id: `u${i}`, name: `U${i}`, createdAt: CREATED_AT });
      base.profiles.push({ id: `p${i}`, name: `P${i}`, userIds: i % 2 ? [`u${i}`] : [], createdAt: CREATED_AT });
    }
    const sut = service(base);
    const counts = await sut.counts();
    assert.deepEqual([counts.users, counts.profiles], [8, 8]);
    assert.deepEqual(
      counts.examples.map((e) => `${e.userId}/${e.profileId}`),
      ['u1/p1', 'u3/p3', 'u5/p5', 'u7/p7'],
    );
  });

  it('drops the profiles before the users', async () => {
    const base = new FakeBase();
    const sut = service(base);
    await sut.dropAll();
    assert.deepEqual(base.calls, ['deleteAllProfiles', 'deleteAllUsers']);
  });
});
