import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindingBytes, chunkBySize, userBytes } from '../storage/batch-size.js';
import { type NewProfile, planBindingGroups } from './binding-groups.js';

const createdAt = new Date(0);
const profile = (id: string, name = id) => ({ id, name, createdAt });
const user = (id: string, name = id) => ({ id, name, createdAt });

describe(planBindingGroups.name, () => {
  it("puts each new user's row in the batch that binds it, at most max bindings a batch", () => {
    const sut = planBindingGroups(
      [{ profile: profile('p1'), newUsers: ['a', 'b', 'c'].map((id) => user(id)), userIds: [] }],
      2,
      1 << 20,
    );
    assert.deepEqual(
      sut.map((g) => [g.users.map((u) => u.id), g.bindings.map((b) => `${b.profileId}/${b.userId}`)]),
      [
        [
          ['a', 'b'],
          ['p1/a', 'p1/b'],
        ],
        [['c'], ['p1/c']],
      ],
    );
  });

  it("gathers existing users' bindings by user across the profiles", () => {
    const profiles: NewProfile[] = ['p1', 'p2', 'p3'].map((id) => ({
      profile: profile(id),
      newUsers: [],
      userIds: ['s1', 's2'],
    }));
    const sut = planBindingGroups(profiles, 4, 1 << 20);
    assert.deepEqual(
      sut.map((g) => g.bindings.map((b) => `${b.userId}/${b.profileId}`)),
      [
        ['s1/p1', 's1/p2', 's1/p3', 's2/p1'],
        ['s2/p2', 's2/p3'],
      ],
    );
    assert.ok(sut.every((g) => g.users.length === 0));
  });

  it('keeps a batch under the byte limit when names are long', () => {
    const long = 'é'.repeat(200); // 400 bytes
    const p = profile('p1', long);
    const newUsers = Array.from({ length: 100 }, (_, i) => user(`u${i}`, long));
    const limit = 32 * 1024;
    const sut = planBindingGroups([{ profile: p, newUsers, userIds: [] }], 100, limit);
    assert.ok(sut.length > 1, 'split below 100 users');
    for (const group of sut) {
      const bytes =
        group.users.reduce((n, u) => n + userBytes(u), 0) + group.bindings.reduce((n, b) => n + bindingBytes(b), 0);
      assert.ok(bytes <= limit, `${bytes} bytes`);
    }
    assert.equal(sut.flatMap((g) => g.users).length, 100);
  });
});

describe(chunkBySize.name, () => {
  it('gives an item larger than the limit a chunk of its own', () => {
    assert.deepEqual(
      chunkBySize([1, 5, 1, 1], 10, 3, (n) => n),
      [[1], [5], [1, 1]],
    );
  });
});
