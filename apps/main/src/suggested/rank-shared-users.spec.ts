import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rankSharedUsers } from './rank-shared-users.js';

const profile = (id: string, ...userIds: string[]) => ({ id, userIds });

describe(rankSharedUsers.name, () => {
  it('returns only the users bound to at least two profiles, with those profiles', async () => {
    const sut = await rankSharedUsers(
      [profile('p1', 'alice', 'bob'), profile('p2', 'alice', 'carol'), profile('p3', 'dave')],
      50,
    );
    assert.deepEqual(sut, [{ id: 'alice', profileIds: ['p1', 'p2'] }]);
  });

  it('puts the most-bound users first and orders users bound equally often by id', async () => {
    const sut = await rankSharedUsers(
      [
        profile('p1', 'zoe', 'bob', 'amy'),
        profile('p2', 'zoe', 'bob', 'amy'),
        profile('p3', 'zoe'),
        profile('p4', 'zoe', 'bob'),
      ],
      50,
    );
    assert.deepEqual(
      sut.map((user) => [user.id, user.profileIds.length]),
      [
        ['zoe', 4],
        ['bob', 3],
        ['amy', 2],
      ],
    );
  });

  it("sorts each user's profile ids, whatever order the profiles came in", async () => {
    const sut = await rankSharedUsers([profile('p9', 'u'), profile('p10', 'u'), profile('p2', 'u')], 50);
    assert.deepEqual(sut, [{ id: 'u', profileIds: ['p10', 'p2', 'p9'] }]);
  });

  it('keeps at most `limit` users, the most-bound ones', async () => {
    const profiles = [profile('p1', 'a', 'b', 'c', 'd'), profile('p2', 'a', 'b', 'c', 'd'), profile('p3', 'c', 'd')];
    assert.deepEqual(
      (await rankSharedUsers(profiles, 2)).map((user) => user.id),
      ['c', 'd'],
    );
    assert.deepEqual(await rankSharedUsers(profiles, 0), []);
  });

  it('counts a profile once for a user even when the profile is listed twice', async () => {
    const sut = await rankSharedUsers([profile('p1', 'u'), profile('p1', 'u'), profile('p2', 'v')], 50);
    assert.deepEqual(sut, []);
  });

  it('reads an async stream of profiles as it reads a list', async () => {
    async function* stream() {
      yield profile('p1', 'u', 'v');
      yield profile('p2', 'u');
      yield profile('p3', 'v', 'u');
    }
    assert.deepEqual(await rankSharedUsers(stream(), 50), [
      { id: 'u', profileIds: ['p1', 'p2', 'p3'] },
      { id: 'v', profileIds: ['p1', 'p3'] },
    ]);
  });

  it('finds nobody in no profiles', async () => {
    assert.deepEqual(await rankSharedUsers([], 50), []);
  });
});
