import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaseClient, ProfileDto, UserDto } from '@app/base-client';
import { AppError } from '@app/errors';
import { MAX_SUGGESTIONS, SuggestedService } from './suggested.service.js';

const tick = () => new Promise((done) => setImmediate(done));

/** The part of base that suggestions read, served from memory. */
class FakeBase {
  readonly nameLookups: string[] = [];
  inFlight = 0;
  peakInFlight = 0;
  failListingWith?: Error;
  failLookupOf = new Map<string, Error>();

  constructor(
    private readonly profiles: Pick<ProfileDto, 'id' | 'userIds'>[],
    private readonly users: Map<string, string>,
  ) {}

  async *allProfiles(): AsyncGenerator<ProfileDto> {
    for (const [index, { id, userIds }] of this.profiles.entries()) {
      if (this.failListingWith && index > 0) throw this.failListingWith;
      yield { id, userIds, name: `profile ${id}`, createdAt: '2026-01-01T00:00:00.000Z' };
    }
  }

  async getUser(id: string): Promise<UserDto> {
    this.nameLookups.push(id);
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      // Later lookups answer sooner, so names arrive out of the order they were asked in.
      for (let i = 10 - (this.nameLookups.length % 10); i > 0; i--) await tick();
      const failure = this.failLookupOf.get(id);
      if (failure) throw failure;
      const name = this.users.get(id);
      if (name === undefined) throw AppError.of('USER_NOT_FOUND', { userId: id });
      return { id, name, createdAt: '2026-01-01T00:00:00.000Z' };
    } finally {
      this.inFlight--;
    }
  }
}

function suggestions(base: FakeBase): SuggestedService {
  return new SuggestedService(base as unknown as BaseClient);
}

/** `count` users `u000`… each bound to the same two profiles and to `extra(i)` more of their own. */
function population(count: number, extra: (i: number) => number) {
  const users = new Map<string, string>();
  const profiles: { id: string; userIds: string[] }[] = [
    { id: 'shared-a', userIds: [] },
    { id: 'shared-b', userIds: [] },
  ];
  for (let i = 0; i < count; i++) {
    const id = `u${String(i).padStart(3, '0')}`;
    users.set(id, `User ${i}`);
    profiles[0].userIds.push(id);
    profiles[1].userIds.push(id);
    for (let e = 0; e < extra(i); e++) profiles.push({ id: `own-${id}-${e}`, userIds: [id] });
  }
  return { users, profiles };
}

describe(SuggestedService.name, () => {
  it('answers the shared users with their names from base, most-bound first', async () => {
    const base = new FakeBase(
      [
        { id: 'p1', userIds: ['ann', 'ben', 'cy'] },
        { id: 'p2', userIds: ['ann', 'ben'] },
        { id: 'p3', userIds: ['ann'] },
      ],
      new Map([
        ['ann', 'Ann'],
        ['ben', 'Ben'],
        ['cy', 'Cy'],
      ]),
    );
    const sut = suggestions(base);
    assert.deepEqual(await sut.suggested(), {
      items: [
        { id: 'ann', name: 'Ann', profileIds: ['p1', 'p2', 'p3'] },
        { id: 'ben', name: 'Ben', profileIds: ['p1', 'p2'] },
      ],
    });
    assert.deepEqual(base.nameLookups.sort(), ['ann', 'ben']);
  });

  it(`returns at most ${MAX_SUGGESTIONS} users and asks base for no other names, at most 8 at once`, async () => {
    const { users, profiles } = population(MAX_SUGGESTIONS + 30, (i) => i % 3);
    const base = new FakeBase(profiles, users);
    const sut = suggestions(base);
    const { items } = await sut.suggested();
    assert.equal(items.length, MAX_SUGGESTIONS);
    const counts = items.map((user) => user.profileIds.length);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => b - a),
      'most-bound first',
    );
    assert.equal(counts[0], 4);
    assert.deepEqual(base.nameLookups.sort(), items.map((user) => user.id).sort());
    assert.ok(base.peakInFlight <= 8, `${base.peakInFlight} name lookups at once`);
    assert.ok(base.peakInFlight > 1, 'names are looked up concurrently');
  });

  it('keeps the ranking order whatever order the names arrive in', async () => {
    const { users, profiles } = population(20, (i) => (i < 10 ? 1 : 0));
    const base = new FakeBase(profiles, users);
    const sut = suggestions(base);
    const { items } = await sut.suggested();
    assert.deepEqual(
      items.map((user) => user.id),
      [...users.keys()],
    );
    assert.ok(items.every((user) => user.name === users.get(user.id)));
  });

  it('leaves out a user that base no longer knows (deleted while the list was built)', async () => {
    const base = new FakeBase(
      [
        { id: 'p1', userIds: ['gone', 'kept'] },
        { id: 'p2', userIds: ['gone', 'kept'] },
      ],
      new Map([['kept', 'Kept']]),
    );
    const sut = suggestions(base);
    assert.deepEqual(await sut.suggested(), { items: [{ id: 'kept', name: 'Kept', profileIds: ['p1', 'p2'] }] });
  });

  it('fails with base’s error when base fails while the profiles are listed or a name is looked up', async () => {
    const outage = AppError.dependencyUnavailable('base');
    const profiles = [
      { id: 'p1', userIds: ['ann'] },
      { id: 'p2', userIds: ['ann'] },
    ];
    const listing = new FakeBase(profiles, new Map([['ann', 'Ann']]));
    listing.failListingWith = outage;
    await assert.rejects(suggestions(listing).suggested(), outage);
    assert.deepEqual(listing.nameLookups, []);

    const lookup = new FakeBase(profiles, new Map([['ann', 'Ann']]));
    lookup.failLookupOf.set('ann', outage);
    await assert.rejects(suggestions(lookup).suggested(), outage);
  });
});
