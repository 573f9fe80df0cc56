import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule } from '@app/config';
import { testConfig, testInfra, uniqueKeyspace } from '@app/testing';
import { Cql } from '../cassandra/cql.js';
import { runMigrations } from '../migrations/migration-runner.js';
import { BindingsRepository } from './bindings.repository.js';
import { ProfilesRepository } from './profiles.repository.js';
import { StorageModule } from './storage.module.js';
import { UsersRepository } from './users.repository.js';

describe('storage on real Cassandra', () => {
  testInfra();
  const config = testConfig('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('storage') });
  let moduleRef: TestingModule;
  let users: UsersRepository;
  let profiles: ProfilesRepository;
  let bindings: BindingsRepository;
  let cql: Cql;

  before(async () => {
    moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), StorageModule] }).compile();
    await moduleRef.init();
    users = moduleRef.get(UsersRepository);
    profiles = moduleRef.get(ProfilesRepository);
    bindings = moduleRef.get(BindingsRepository);
    cql = moduleRef.get(Cql);
  });

  after(async () => {
    await cql.executeDdl(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`);
    await moduleRef.close();
  });

  const user = (name: string) => ({ id: randomUUID(), name, createdAt: new Date() });

  describe(runMigrations.name, () => {
    it('records every migration once and applies nothing on a second run', async () => {
      const versions = (await cql.execute(`SELECT version FROM ${config.cassandra.keyspace}.schema_migrations`)).rows
        .map((row) => row.get('version') as number)
        .sort();
      assert.deepEqual(versions, [1, 2, 3, 4, 5]);
      assert.deepEqual(await runMigrations(cql, config.cassandra), []);
    });

    it('leaves no secondary index and no set column: every query is served by a table', async () => {
      const indexes = await cql.execute('SELECT index_name FROM system_schema.indexes WHERE keyspace_name = ?', [
        config.cassandra.keyspace,
      ]);
      assert.equal(indexes.rowLength, 0);
      const columns = await cql.execute(
        'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
        [config.cassandra.keyspace, 'profiles'],
      );
      assert.deepEqual(columns.rows.map((row) => row.get('column_name')).sort(), ['created_at', 'id', 'name']);
    });
  });

  describe(UsersRepository.name, () => {
    it('inserts and reads a user back', async () => {
      const row = user('Ada');
      await users.insert(row);
      const found = await users.findById(row.id);
      assert.equal(found?.name, 'Ada');
      assert.equal(found?.createdAt.getTime(), row.createdAt.getTime());
    });

    it('returns undefined for an unknown id', async () => {
      assert.equal(await users.findById(randomUUID()), undefined);
    });

    it('renames only existing users and never creates one', async () => {
      const row = user('Before');
      await users.insert(row);
      assert.equal(await users.rename(row.id, 'After'), true);
      assert.equal((await users.findById(row.id))?.name, 'After');
      const ghost = randomUUID();
      assert.equal(await users.rename(ghost, 'Ghost'), false);
      assert.equal(await users.findById(ghost), undefined);
    });

    it('tells which ids exist', async () => {
      const a = user('A');
      await users.insert(a);
      const unknown = randomUUID();
      assert.deepEqual([...(await users.findExistingIds([a.id, unknown]))], [a.id]);
      assert.equal((await users.findExistingIds([])).size, 0);
    });

    it('pages through every user exactly once with opaque tokens', async () => {
      const before = new Set<string>();
      let token: string | undefined;
      do {
        const page = await users.page(2, token);
        assert.ok(page.items.length <= 2);
        for (const item of page.items) {
          assert.ok(!before.has(item.id), 'no user appears twice');
          before.add(item.id);
        }
        token = page.nextPage;
        if (token) assert.match(token, /^[A-Za-z0-9_-]+$/);
      } while (token);
      const direct = await cql.execute(`SELECT COUNT(*) AS n FROM ${config.cassandra.keyspace}.users`);
      assert.equal(before.size, Number(direct.first().get('n')));
    });

    it('deletes a user once', async () => {
      const row = user('Gone');
      await users.insert(row);
      assert.equal(await users.delete(row.id), true);
      assert.equal(await users.delete(row.id), false);
    });
  });

  describe(ProfilesRepository.name, () => {
    it('refuses to rename a profile that does not exist, without creating it', async () => {
      const ghost = randomUUID();
      assert.equal(await profiles.rename(ghost, 'x'), false);
      assert.equal(await profiles.findById(ghost), undefined);
    });
  });

  describe(BindingsRepository.name, () => {
    it('writes a binding to both tables, reads it from each side, and removes it from both', async () => {
      const u = user('Bound');
      await users.insert(u);
      const p = { id: randomUUID(), name: 'P', createdAt: new Date() };
      await profiles.insert(p);
      await bindings.bind([{ profileId: p.id, profileName: p.name, userId: u.id }]);
      await bindings.bind([{ profileId: p.id, profileName: p.name, userId: u.id }]);
      assert.equal(await bindings.isBound(p.id, u.id), true);
      assert.deepEqual((await bindings.profilesOf(u.id, 10, undefined)).items, [{ id: p.id, name: 'P' }]);
      assert.deepEqual((await bindings.usersOf(p.id, 10, undefined)).items, [u.id]);
      assert.equal(await bindings.countOf(u.id), 1);
      assert.equal(await bindings.renameFor(u.id, p.id, 'Q'), true);
      assert.deepEqual((await bindings.profilesOf(u.id, 10, undefined)).items, [{ id: p.id, name: 'Q' }]);

      await bindings.unbind([{ profileId: p.id, userId: u.id }]);
      assert.equal(await bindings.isBound(p.id, u.id), false);
      assert.equal(await bindings.countOf(u.id), 0);
      assert.equal(await bindings.renameFor(u.id, p.id, 'R'), false, 'a rename never brings a removed binding back');
      assert.deepEqual((await bindings.profilesOf(u.id, 10, undefined)).items, []);
    });

    it("pages a profile's users, each once, in the table's order", async () => {
      const p = { id: randomUUID(), name: 'Wide', createdAt: new Date() };
      const ids = Array.from({ length: 250 }, () => randomUUID());
      await bindings.bind(
        ids.map((userId) => ({ profileId: p.id, profileName: p.name, userId })),
        4,
      );
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await bindings.usersOf(p.id, 100, token);
        assert.ok(page.items.length <= 100);
        seen.push(...page.items);
        token = page.nextPage;
      } while (token);
      assert.equal(new Set(seen).size, seen.length, 'no user twice');
      assert.deepEqual([...seen].sort(), [...ids].sort());
      assert.deepEqual(await bindings.firstUsersOf(p.id, 3), seen.slice(0, 3));
    });
  });
});
