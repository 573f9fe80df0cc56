/** The Redis keys of one (user, profile) pair. */
export interface PairKeys {
  /** Redlock resource, on every lock server. */
  readonly lock: string;
  /** Fencing counter (`INCR`), on the main server; never expires, so tokens only grow. */
  readonly fence: string;
  /** Launched record `{pod, since, fencingToken}`, on the main server; expires with the lease. */
  readonly launched: string;
  /** Where the pair's event sequence stands, so a resumed stream continues it; on the main server. */
  readonly sequence: string;
}

export function pairKeys(userId: string, profileId: string): PairKeys {
  if (!userId || !profileId) throw new Error('userId and profileId must be non-empty');
  return {
    lock: `kubescaler:lock:${userId}:${profileId}`,
    fence: `kubescaler:fence:${userId}:${profileId}`,
    launched: `kubescaler:launched:${userId}:${profileId}`,
    sequence: `kubescaler:seq:${userId}:${profileId}`,
  };
}
