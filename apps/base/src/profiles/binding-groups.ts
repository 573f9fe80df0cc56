import { bindingBytes, chunkBySize, userBytes } from '../storage/batch-size.js';
import type { BindingRow, ProfileRow, UserRow } from '../storage/rows.js';

/** One profile of a bulk creation: the users made for it and the existing users bound to it. */
export interface NewProfile {
  profile: ProfileRow;
  newUsers: readonly UserRow[];
  userIds: readonly string[];
}

/** The writes of one logged batch: these bindings, and these new users' rows with them. */
export interface PlannedGroup {
  bindings: BindingRow[];
  users: UserRow[];
}

/**
 * Splits a bulk creation's bindings into logged batches of at most `maxBindings` bindings and
 * `maxBytes` (see `MAX_BATCH_BYTES`) that each touch few partitions, since Cassandra applies a batch's rows of one partition key as one
 * mutation:
 * - a profile's new users, each user's row in the batch that binds it (the user's row and its
 *   `user_profiles` row share a partition key; the profile's `profile_users` rows share another),
 *   so a new user is written with its binding or not at all;
 * - existing users' bindings ordered by user across the request's profiles, so a batch holds
 *   whole runs of one user's bindings (one `user_profiles` partition each) to the same profiles.
 */
export function planBindingGroups(
  profiles: readonly NewProfile[],
  maxBindings: number,
  maxBytes: number,
): PlannedGroup[] {
  const groups: PlannedGroup[] = [];
  for (const { profile, newUsers } of profiles) {
    const withBinding = (user: UserRow) => userBytes(user) + bindingBytes(binding(profile, user.id));
    for (const users of chunkBySize(newUsers, maxBindings, maxBytes, withBinding)) {
      groups.push({ users, bindings: users.map((user) => binding(profile, user.id)) });
    }
  }
  const byUser = new Map<string, BindingRow[]>();
  for (const { profile, userIds } of profiles) {
    for (const userId of userIds) {
      let list = byUser.get(userId);
      if (!list) byUser.set(userId, (list = []));
      list.push(binding(profile, userId));
    }
  }
  for (const bindings of chunkBySize([...byUser.values()].flat(), maxBindings, maxBytes, bindingBytes)) {
    groups.push({ users: [], bindings });
  }
  return groups;
}

const binding = (profile: ProfileRow, userId: string): BindingRow => ({
  profileId: profile.id,
  profileName: profile.name,
  userId,
});
