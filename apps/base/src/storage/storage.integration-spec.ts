import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule } from '@app/config';
import { testConfig, testInfra, uniqueKeyspace } from '@app/testing';
import { Cql } from '../cassandra/cql.js';
import { runMigrations } from '../migrations/migration-runner.js';
import { ProfilesRepository } from './profiles.repository.js';
import { StorageModule } from './storage.module.js';
import { UsersRepository } from './users.repository.js';

describe('storage on real Cassandra', () => {
  testInfra();
  const config = testConfig('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('storage') });
  let moduleRef: TestingModule;
  let users: UsersRepository;
  let profiles: ProfilesRepository;
  let cql: Cql;

  before(async () => {
    moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), StorageModule] }).compile();
    await moduleRef.init();
    users = moduleRef.get(UsersRepository);
    profiles = moduleRef.get(ProfilesRepository);
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
      assert.deepEqual(versions, [1, 2]);
      assert.deepEqual(await runMigrations(cql, config.cassandra), []);
    });

    it('creates the SAI index on profiles.users', async () => {
      const rows = (
        await cql.execute('SELECT index_name, options FROM system_schema.indexes WHERE keyspace_name = ?', [
          config.cassandra.keyspace,
        ])
      ).rows;
      const index = rows.find((row) => row.get('index_name') === 'profiles_users_idx');
      assert.ok(index, 'profiles_users_idx exists');
      assert.match(
        String((index.get('options') as Record<string, string>).class_name),
        /^(sai|.*StorageAttachedIndex)$/,
      );
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
    it('finds the profiles of a user through the index, and bind/unbind are idempotent', async () => {
      const u = user('Bound');
      await users.insert(u);
      const p1 = { id: randomUUID(), name: 'P1', userIds: [u.id], createdAt: new Date() };
      const p2 = { id: randomUUID(), name: 'P2', userIds: [], createdAt: new Date() };
      await profiles.insert(p1);
      await profiles.insert(p2);
      assert.deepEqual(
        (await profiles.findByUser(u.id)).map((p) => p.id),
        [p1.id],
      );

      assert.equal(await profiles.bind(p2.id, u.id), true);
      assert.equal(await profiles.bind(p2.id, u.id), true);
      assert.deepEqual((await profiles.findByUser(u.id)).map((p) => p.id).sort(), [p1.id, p2.id].sort());
      assert.deepEqual([...((await profiles.findUserIds(p2.id)) ?? [])], [u.id]);

      assert.equal(await profiles.unbind(p2.id, u.id), true);
      assert.equal(await profiles.unbind(p2.id, u.id), true);
      assert.deepEqual(
        (await profiles.findByUser(u.id)).map((p) => p.id),
        [p1.id],
      );
    });

    it('refuses to bind to or rename a profile that does not exist, without creating it', async () => {
      const ghost = randomUUID();
      assert.equal(await profiles.bind(ghost, randomUUID()), false);
      assert.equal(await profiles.rename(ghost, 'x'), false);
      assert.equal(await profiles.findById(ghost), undefined);
      assert.equal(await profiles.findUserIds(ghost), undefined);
    });
  });
});
