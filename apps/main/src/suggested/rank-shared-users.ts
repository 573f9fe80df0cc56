import type { ProfileDto } from '@app/base-client';

/** A user bound to at least two profiles, with those profiles. */
export interface SharedUser {
  id: string;
  profileIds: string[];
}

/**
 * The users bound to at least two of `profiles`, most-bound first (ties by id), at most `limit`
 * of them, each with its profile ids sorted. Takes an async stream too, so a caller paging
 * through base holds only the user → profiles map, never every profile at once.
 */
export async function rankSharedUsers(
  profiles: Iterable<Pick<ProfileDto, 'id' | 'userIds'>> | AsyncIterable<Pick<ProfileDto, 'id' | 'userIds'>>,
  limit: number,
): Promise<SharedUser[]> {
  const profilesByUser = new Map<string, Set<string>>();
  for await (const profile of profiles) {
    for (const userId of profile.userIds) {
      const bound = profilesByUser.get(userId);
      if (bound) bound.add(profile.id);
      else profilesByUser.set(userId, new Set([profile.id]));
    }
  }
  return [...profilesByUser]
    .filter(([, profileIds]) => profileIds.size >= 2)
    .sort(([idA, a], [idB, b]) => b.size - a.size || compare(idA, idB))
    .slice(0, Math.max(0, limit))
    .map(([id, profileIds]) => ({ id, profileIds: [...profileIds].sort(compare) }));
}

/** Code-unit order: the same on every replica, whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
