/** Which pod streams a pair, since when, under which fencing token. */
export interface LaunchedRecord {
  readonly pod: string;
  readonly since: Date;
  readonly fencingToken: number;
}

/**
 * A record as stored: also the holder's unique lock value, which alone decides whose it is, and
 * the client session it streams to (`''` for none), which a reconnect of that same session may
 * take the pair over from (see `PairLock.acquire`). Neither ever leaves Redis.
 */
export interface StoredLaunchedRecord extends LaunchedRecord {
  readonly owner: string;
  readonly session?: string;
}

/** The stored JSON up to the fencing token, which the acquire script appends (with the closing brace). */
export function launchedRecordPrefix(record: Omit<StoredLaunchedRecord, 'fencingToken'>): string {
  const head = JSON.stringify({
    pod: record.pod,
    since: record.since.toISOString(),
    owner: record.owner,
    session: record.session ?? '',
  });
  return `${head.slice(0, -1)},"fencingToken":`;
}

/** The JSON stored on the lock servers. */
export function serializeLaunchedRecord(record: StoredLaunchedRecord): string {
  return `${launchedRecordPrefix(record)}${record.fencingToken}}`;
}

/** The record as a JSON value, or undefined when it is not one we wrote. */
export function parseLaunchedRecord(raw: string | null | undefined): StoredLaunchedRecord | undefined {
  if (!raw) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pod, since, fencingToken, owner, session } = value as Record<string, unknown>;
  if (typeof pod !== 'string' || typeof since !== 'string' || typeof owner !== 'string' || owner === '') {
    return undefined;
  }
  if (typeof fencingToken !== 'number' || !Number.isSafeInteger(fencingToken) || fencingToken < 1) return undefined;
  const sinceDate = new Date(since);
  if (Number.isNaN(sinceDate.getTime())) return undefined;
  return { pod, since: sinceDate, fencingToken, owner, ...(typeof session === 'string' && session ? { session } : {}) };
}
