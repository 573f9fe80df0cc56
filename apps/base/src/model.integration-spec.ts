import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule } from '@app/config';
import { AppError } from '@app/errors';
import { testConfig, testInfra, uniqueKeyspace } from '@app/testing';
import { Cql } from './cassandra/cql.js';
import { runMigrations } from './migrations/migration-runner.js';
import { MIGRATIONS } from './migrations/migrations.js';
import { ProfilesService } from './profiles/profiles.service.js';
import { RankingModule } from './ranking/ranking.module.js';
import { RankingService } from './ranking/ranking.service.js';
import { BindingsRepository } from './storage/bindings.repository.js';
import { StorageModule } from './storage/storage.module.js';
import { TotalsRepository } from './storage/totals.repository.js';
import { UsersService } from './users/users.service.js';

/**
 * The data model's invariants on real Cassandra: a binding is in both tables that serve it or in
 * neither (also when a write fails half-way), the counters and the ranking stay exact under
 * concurrent writes, and the migration takes data of the set model over.
 */
describe('data model on real Cassandra', () => {
  testInfra();
  const config = testConfig('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('model') });
  const ks = config.cassandra.keyspace;
  let moduleRef: TestingModule;
  let users: UsersService;
  let profiles: ProfilesService;
  let ranking: RankingService;
  let bindings: BindingsRepository;
  let totals: TotalsRepository;
  let cql: Cql;

  before(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), StorageModule, RankingModule],
      providers: [UsersService, ProfilesService],
    }).compile();
    await moduleRef.init();
    users = moduleRef.get(UsersService);
    profiles = moduleRef.get(ProfilesService);
    ranking = moduleRef.get(RankingService);
    bindings = moduleRef.get(BindingsRepository);
    totals = moduleRef.get(TotalsRepository);
    cql = moduleRef.get(Cql);
  });

  after(async () => {
    await cql.executeDdl(`DROP KEYSPACE IF EXISTS ${ks}`);
    await moduleRef.close();
  });

  /** Every binding row of these profiles and users, as `profile/user`, from each table. */
  async function bindingRows(profileIds: string[], userIds: string[]) {
    const byProfile = (
      await cql.execute(`SELECT profile_id, user_id FROM ${ks}.profile_users WHERE profile_id IN ?`, [profileIds])
    ).rows.map((row) => `${row.get('profile_id')}/${row.get('user_id')}`);
    const byUser = (
      await cql.execute(`SELECT profile_id, user_id FROM ${ks}.user_profiles WHERE user_id IN ?`, [userIds])
    ).rows.map((row) => `${row.get('profile_id')}/${row.get('user_id')}`);
    return {
      byProfile: byProfile.sort(),
      byUser: byUser.filter((key) => profileIds.includes(key.split('/')[0]!)).sort(),
    };
  }

  async function assertBothOrNeither(profileIds: string[], userIds: string[]): Promise<string[]> {
    const { byProfile, byUser } = await bindingRows(profileIds, userIds);
    assert.deepEqual(byUser, byProfile, 'every binding in profile_users is in user_profiles, and no other');
    return byProfile;
  }

  const newUsers = async (n: number) =>
    (await users.createMany(Array.from({ length: n }, (_, i) => `u${i}`))).map((u) => u.id);

  /**
   * Runs `work` with Cassandra refusing the `nth` logged batch whose statements match `pattern`
   * (and every later one), as an outage half-way through a write would.
   */
  async function withBatchFailing<T>(pattern: RegExp, nth: number, work: () => Promise<T>): Promise<T> {
    const batch = cql.batch.bind(cql);
    let seen = 0;
    cql.batch = async (statements, logged, options) => {
      if (statements.some((s) => pattern.test(s.query)) && ++seen >= nth)
        throw AppError.dependencyUnavailable('cassandra');
      return batch(statements, logged, options);
    };
    try {
      return await work();
    } finally {
      cql.batch = batch;
    }
  }
  const isUnavailable = (error: AppError) => error.code === 'DEPENDENCY_UNAVAILABLE';

  describe('a binding is in both tables or in neither', () => {
    it('holds after creating, binding, unbinding and deleting', async () => {
      const ids = await newUsers(5);
      const p = await profiles.create('Both', ids.slice(0, 3));
      await profiles.bind(p.id, ids[3]!);
      await profiles.unbind(p.id, ids[0]!);
      assert.deepEqual(
        await assertBothOrNeither([p.id], ids),
        ids
          .slice(1, 4)
          .map((u) => `${p.id}/${u}`)
          .sort(),
      );
      await users.delete(ids[1]!);
      assert.equal((await assertBothOrNeither([p.id], ids)).length, 2);
      await profiles.delete(p.id);
      assert.deepEqual(await assertBothOrNeither([p.id], ids), []);
    });

    it('holds when a profile creation fails half-way through its bindings: nothing stays', async () => {
      const ids = await newUsers(250); // three logged batches of bindings
      const before = await totals.read();
      await withBatchFailing(/^INSERT INTO \S+\.profile_users/, 2, () =>
        assert.rejects(profiles.create('Half', ids), isUnavailable),
      );
      const written = await cql.execute(`SELECT id FROM ${ks}.profiles WHERE name = ? ALLOW FILTERING`, ['Half']);
      assert.equal(written.rowLength, 0, 'the profile was taken back');
      const rows = await cql.execute(`SELECT profile_id FROM ${ks}.user_profiles WHERE user_id IN ?`, [
        ids.slice(0, 100),
      ]);
      assert.equal(rows.rowLength, 0, 'no user keeps a binding to the profile taken back');
      assert.deepEqual(await totals.read(), before, 'the profile count is back where it was');
    });

    it("writes bindings of the longest names without reaching Cassandra's batch size limit", async () => {
      const long = (tag: string) => `${tag}${'ü'.repeat(200 - tag.length)}`; // 200 characters, ≈ 400 bytes
      const [made] = await profiles.createMany({
        profiles: [{ name: long('bulk'), newUsers: Array.from({ length: 100 }, (_, i) => long(`u${i}`)), userIds: [] }],
        rank: false,
      });
      assert.equal((await assertBothOrNeither([made!.id], made!.newUserIds)).length, 100);
      const p = await profiles.create(long('one'), made!.newUserIds);
      assert.equal((await assertBothOrNeither([p.id], made!.newUserIds)).length, 100);
      await profiles.delete(p.id); // its 100 users, bound twice, would crowd the suggestions of later tests
    });

    it('holds when a bulk creation fails half-way: each new user is written with its binding or not at all', async () => {
      const shared = await newUsers(3);
      const tag = randomUUID().slice(0, 8);
      const request = {
        profiles: Array.from({ length: 4 }, (_, p) => ({
          name: `${tag}-p${p}`,
          newUsers: Array.from({ length: 150 }, (_, u) => `${tag}-p${p}-u${u}`),
          userIds: shared,
        })),
        rank: false,
      };
      // Eight logged batches of new users with their bindings (100 + 50 per profile), then the shared users'.
      await withBatchFailing(/^INSERT INTO \S+\.users/, 4, () =>
        assert.rejects(profiles.createMany(request), isUnavailable),
      );
      const profileIds = (await cql.all(`SELECT id, name FROM ${ks}.profiles`))
        .filter((row) => (row.get('name') as string).startsWith(`${tag}-`))
        .map((row) => String(row.get('id')));
      assert.equal(profileIds.length, 4, 'the profiles were written before their bindings');
      const written = (await cql.all(`SELECT id, name FROM ${ks}.users`)).filter((row) =>
        (row.get('name') as string).startsWith(`${tag}-`),
      );
      const newIds = written.map((row) => String(row.get('id')));
      assert.ok(newIds.length > 0 && newIds.length < 600, `${newIds.length} of 600 new users written half-way`);
      const rows = await assertBothOrNeither(profileIds, [...newIds, ...shared]);
      const boundUsers = new Set(rows.map((key) => key.split('/')[1]!));
      assert.deepEqual(
        newIds.filter((id) => !boundUsers.has(id)),
        [],
        'every new user written is bound to its profile',
      );
      assert.deepEqual(
        [...boundUsers].filter((id) => !newIds.includes(id) && !shared.includes(id)),
        [],
        'no binding names a user that was not written',
      );
    });

    it("holds when a user's deletion fails half-way through its sweep, and a second DELETE finishes it", async () => {
      const [u] = await newUsers(1);
      const made = await profiles.createMany({
        profiles: Array.from({ length: 250 }, (_, i) => ({ name: `p${i}`, newUsers: [], userIds: [u!] })),
        rank: true,
      });
      const profileIds = made.map((p) => p.id);
      assert.equal(await bindings.countOf(u!), 250);
      await withBatchFailing(/^DELETE FROM \S+\.profile_users/, 2, () =>
        assert.rejects(users.delete(u!), isUnavailable),
      );
      const left = await assertBothOrNeither(profileIds, [u!]);
      assert.ok(left.length > 0 && left.length < 250, `${left.length} bindings left half-way`);
      await assert.rejects(users.delete(u!), (error: AppError) => error.code === 'USER_NOT_FOUND');
      assert.deepEqual(await assertBothOrNeither(profileIds, [u!]), []);
      assert.equal(
        (await ranking.suggested()).some((s) => s.id === u),
        false,
      );
    });
  });

  describe('aggregates under concurrent writes', () => {
    it('counts every user and profile created and deleted concurrently', async () => {
      const before = await totals.read();
      const made = await Promise.all(Array.from({ length: 40 }, (_, i) => users.create(`c${i}`)));
      const batch = await users.createMany(['b1', 'b2', 'b3']);
      const madeProfiles = await Promise.all(Array.from({ length: 10 }, (_, i) => profiles.create(`cp${i}`, [])));
      await Promise.all([
        ...made.slice(5, 15).map((u) => users.delete(u.id)),
        // Two DELETEs of one user at once: one answers 404, the user counts once.
        ...made
          .slice(0, 5)
          .flatMap((u) => [users.delete(u.id).catch(() => 'twice'), users.delete(u.id).catch(() => 'twice')]),
        ...madeProfiles.slice(0, 4).map((p) => profiles.delete(p.id)),
      ]);
      assert.deepEqual(await totals.read(), {
        users: before.users + 40 + batch.length - 15,
        profiles: before.profiles + 10 - 4,
      });
    });

    it('ranks a user by its exact binding count after concurrent binds and unbinds', async () => {
      const [shared, other] = await newUsers(2);
      const made = await Promise.all(Array.from({ length: 30 }, (_, i) => profiles.create(`r${i}`, [])));
      await Promise.all([
        ...made.map((p) => profiles.bind(p.id, shared!)),
        ...made.slice(0, 3).map((p) => profiles.bind(p.id, other!)),
      ]);
      await Promise.all(made.slice(0, 12).map((p) => profiles.unbind(p.id, shared!)));
      await Promise.all(made.slice(12, 14).map((p) => profiles.bind(p.id, shared!))); // already bound: no change
      const top = await ranking.suggested();
      const mine = top.filter((s) => s.id === shared || s.id === other);
      assert.deepEqual(
        mine.map((s) => [s.id, s.profileCount, s.profileIds.length]),
        [
          [shared, 18, 10],
          [other, 3, 3],
        ],
      );
      const counts = top.map((s) => s.profileCount);
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
        'most-bound first',
      );
      await Promise.all(made.slice(0, 2).map((p) => profiles.unbind(p.id, other!)));
      assert.equal(
        (await ranking.suggested()).some((s) => s.id === other),
        false,
        'one binding left: not shared',
      );
    });

    it('leaves out a ranking row that lost a race (its count is not the ranked one)', async () => {
      const [u] = await newUsers(1);
      const [p1, p2] = await Promise.all([profiles.create('l1', [u!]), profiles.create('l2', [u!])]);
      assert.ok(p1 && p2);
      await cql.execute(`INSERT INTO ${ks}.shared_users (bucket, bound, user_id) VALUES (0, 999, ?)`, [u]);
      const mine = (await ranking.suggested()).filter((s) => s.id === u);
      assert.deepEqual(
        mine.map((s) => s.profileCount),
        [2],
      );
    });
  });

  describe('the migration from the set model', () => {
    it('copies every binding to both tables, counts users and profiles, ranks shared users', async () => {
      const old = `${ks}_old`;
      const oldConfig = { ...config.cassandra, keyspace: old };
      await runMigrations(cql, oldConfig, MIGRATIONS.slice(0, 2));
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      for (const [id, name] of [
        [a, 'A'],
        [b, 'B'],
        [c, 'C'],
      ]) {
        await cql.execute(`INSERT INTO ${old}.users (id, name, created_at) VALUES (?, ?, ?)`, [id, name, new Date()]);
      }
      const [p1, p2] = [randomUUID(), randomUUID()];
      await cql.execute(`INSERT INTO ${old}.profiles (id, name, users, created_at) VALUES (?, ?, ?, ?)`, [
        p1,
        'One',
        [a, b],
        new Date(),
      ]);
      await cql.execute(`INSERT INTO ${old}.profiles (id, name, users, created_at) VALUES (?, ?, ?, ?)`, [
        p2,
        'Two',
        [a],
        new Date(),
      ]);
      try {
        assert.deepEqual(await runMigrations(cql, oldConfig, MIGRATIONS.slice(0, 4)), [3, 4]);
        // The data step again: it is idempotent (a crash before it was recorded repeats it).
        await MIGRATIONS.find((m) => m.version === 4)!.run!(cql, old);
        assert.deepEqual(await runMigrations(cql, oldConfig), [5]);
        const pu = (await cql.execute(`SELECT profile_id, user_id FROM ${old}.profile_users`)).rows.map(
          (row) => `${row.get('profile_id')}/${row.get('user_id')}`,
        );
        const up = (await cql.execute(`SELECT profile_id, user_id, profile_name FROM ${old}.user_profiles`)).rows.map(
          (row) => `${row.get('profile_id')}/${row.get('user_id')}`,
        );
        assert.deepEqual(pu.sort(), [`${p1}/${a}`, `${p1}/${b}`, `${p2}/${a}`].sort());
        assert.deepEqual(up.sort(), pu.sort());
        const counted = (await cql.execute(`SELECT name, n FROM ${old}.totals`)).rows.map((row) => [
          row.get('name'),
          Number(row.get('n')),
        ]);
        assert.deepEqual(Object.fromEntries(counted), { users: 3, profiles: 2 });
        const shared = (await cql.execute(`SELECT bound, user_id FROM ${old}.shared_users WHERE bucket = 0`)).rows;
        assert.deepEqual(
          shared.map((row) => [String(row.get('user_id')), row.get('bound')]),
          [[a, 2]],
        );
      } finally {
        await cql.executeDdl(`DROP KEYSPACE IF EXISTS ${old}`);
      }
    });
  });
});
