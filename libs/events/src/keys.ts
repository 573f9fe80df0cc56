/** The Redis keys of one pair's published events; all on the main server (`REDIS_URL`). */
export interface PairEventKeys {
  /** The pair's published events (a Redis stream, bounded by count and age). */
  readonly events: string;
  /** The newest entry trimmed from `events` (by count or age): a resume from before it lost events. */
  readonly eventsTrimmed: string;
  /** Pub/sub channel of the pair: its published events as they are added, and take-over notices. */
  readonly channel: string;
}

export function pairEventKeys(userId: string, profileId: string): PairEventKeys {
  if (!userId || !profileId) throw new Error('userId and profileId must be non-empty');
  return {
    events: `kubescaler:events:${userId}:${profileId}`,
    eventsTrimmed: `kubescaler:events-trimmed:${userId}:${profileId}`,
    channel: `kubescaler:pair:${userId}:${profileId}`,
  };
}
