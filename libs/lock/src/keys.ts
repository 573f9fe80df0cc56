/** The Redis keys of one (user, profile) pair; every lock server holds its own copy of each. */
export interface PairKeys {
  /** Lock key: the holder's unique random value, expiring with the lease. */
  readonly lock: string;
  /** Fencing high-water mark; never expires, so tokens only grow. */
  readonly fence: string;
  /** Launched record `{pod, since, fencingToken, owner}`; expires with the lock key beside it. */
  readonly launched: string;
  /** Where the pair's event sequence stands, so a resumed stream continues it; on the main server. */
  readonly sequence: string;
}

/** The keys a held lock renews and releases: all it keeps of its pair's keys. */
export type LeaseKeys = Pick<PairKeys, 'lock' | 'launched'>;

/**
 * On every lock server: the id of its data set. Whoever first finds it missing writes a random
 * one; a server whose id changes (or disappears) lost its data, so it does not vote for a lease.
 * `fresh:<run_id>` declares a server started empty by whoever started it (see `Incarnation`).
 */
export const DATASET_KEY = 'kubescaler:dataset';

export function pairKeys(userId: string, profileId: string): PairKeys {
  if (!userId || !profileId) throw new Error('userId and profileId must be non-empty');
  return {
    lock: `kubescaler:lock:${userId}:${profileId}`,
    fence: `kubescaler:fence:${userId}:${profileId}`,
    launched: `kubescaler:launched:${userId}:${profileId}`,
    sequence: `kubescaler:seq:${userId}:${profileId}`,
  };
}

/** The user's live streams across pods (a sorted set: one member per stream, scored by its expiry); on the main server. */
export function userStreamsKey(userId: string): string {
  if (!userId) throw new Error('userId must be non-empty');
  return `kubescaler:user-streams:${userId}`;
}
