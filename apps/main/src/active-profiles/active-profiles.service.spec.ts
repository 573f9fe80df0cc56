import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaseClient, ProfileRefDto } from '@app/base-client';
import { AppError } from '@app/errors';
import type { LaunchedRecord, LaunchedRecords } from '@app/lock';
import { ActiveProfilesService } from './active-profiles.service.js';

const USER = 'a11ce000-0000-4000-8000-000000000001';

function profile(id: string): ProfileRefDto {
  return { id, name: `profile ${id}` };
}

function record(pod: string, since: string): LaunchedRecord {
  return { pod, since: new Date(since), fencingToken: 7 };
}

/** base's profiles of the user, and the lock servers' launched records, from memory; every call recorded. */
function fakes(profiles: ProfileRefDto[] | AppError, records: Record<string, LaunchedRecord>, pageSize = 10_000) {
  const calls: string[] = [];
  const base = {
    async profileIdsOf(userId: string, _limit: number | undefined, page?: string) {
      calls.push(`base.profileIdsOf ${userId}${page ? ` page ${page}` : ''}`);
      if (profiles instanceof AppError) throw profiles;
      const from = Number(page ?? 0);
      const next = from + pageSize < profiles.length ? { nextPage: String(from + pageSize) } : {};
      return { items: profiles.slice(from, from + pageSize).map((p) => p.id), ...next };
    },
  };
  const launched = {
    async readMany(userId: string, profileIds: readonly string[]) {
      calls.push(`launched.readMany ${userId} [${profileIds.join(',')}]`);
      return new Map(profileIds.flatMap((id) => (records[id] ? [[id, records[id]] as const] : [])));
    },
  };
  const sut = new ActiveProfilesService(base as unknown as BaseClient, launched as unknown as LaunchedRecords);
  return { sut, calls };
}

describe(ActiveProfilesService.name, () => {
  it("answers the user's live profiles with their pod, oldest first, reading every record in one call", async () => {
    const { sut, calls } = fakes([profile('p1'), profile('p2'), profile('p3')], {
      p3: record('stream-a', '2026-01-01T10:00:00.000Z'),
      p1: record('stream-b', '2026-01-01T11:00:00.000Z'),
    });
    assert.deepEqual(await sut.login(USER), {
      userId: USER,
      activeProfiles: [
        { profileId: 'p3', pod: 'stream-a', since: '2026-01-01T10:00:00.000Z' },
        { profileId: 'p1', pod: 'stream-b', since: '2026-01-01T11:00:00.000Z' },
      ],
    });
    assert.deepEqual(calls, [`base.profileIdsOf ${USER}`, `launched.readMany ${USER} [p1,p2,p3]`]);
  });

  it('reads the lock servers once per page of profiles when the user has more than one page', async () => {
    const { sut, calls } = fakes(
      [profile('p1'), profile('p2'), profile('p3')],
      { p3: record('stream-a', '2026-01-01T10:00:00.000Z'), p1: record('stream-b', '2026-01-01T09:00:00.000Z') },
      2,
    );
    assert.deepEqual(
      (await sut.login(USER)).activeProfiles.map((active) => active.profileId),
      ['p1', 'p3'],
    );
    assert.deepEqual(calls, [
      `base.profileIdsOf ${USER}`,
      `launched.readMany ${USER} [p1,p2]`,
      `base.profileIdsOf ${USER} page 2`,
      `launched.readMany ${USER} [p3]`,
    ]);
  });

  it('answers no live profiles when none of them streams, or the user has none', async () => {
    assert.deepEqual((await fakes([profile('p1')], {}).sut.login(USER)).activeProfiles, []);
    assert.deepEqual((await fakes([], {}).sut.login(USER)).activeProfiles, []);
  });

  it("passes base's refusal on, without reading the lock servers", async () => {
    const notFound = AppError.of('USER_NOT_FOUND', { userId: USER });
    const { sut, calls } = fakes(notFound, {});
    await assert.rejects(sut.login(USER), (error) => error === notFound);
    assert.deepEqual(calls, [`base.profileIdsOf ${USER}`]);
  });
});
