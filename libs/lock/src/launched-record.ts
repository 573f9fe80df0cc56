import type { Redis } from 'ioredis';
import type { PairKeys } from './keys.js';

/** Which pod streams a pair, since when, under which fencing token. */
export interface LaunchedRecord {
  readonly pod: string;
  readonly since: Date;
  readonly fencingToken: number;
}

/** The record as a JSON value, or undefined when it is not one we wrote. */
export function parseLaunchedRecord(raw: string | null | undefined): LaunchedRecord | undefined {
  if (!raw) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pod, since, fencingToken } = value as Record<string, unknown>;
  if (typeof pod !== 'string' || typeof since !== 'string') return undefined;
  if (typeof fencingToken !== 'number' || !Number.isSafeInteger(fencingToken) || fencingToken < 1) return undefined;
  const sinceDate = new Date(since);
  if (Number.isNaN(sinceDate.getTime())) return undefined;
  return { pod, since: sinceDate, fencingToken };
}

// One round trip, atomic: the token in the record is the one INCR just handed out.
const CREATE_SCRIPT = `
local token = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], cjson.encode({pod = ARGV[1], since = ARGV[2], fencingToken = token}), 'PX', ARGV[3])
return token
`;

// Shared prefix: is the record at KEYS[1] the one carrying fencing token ARGV[1]?
const IS_OURS = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or tonumber(record.fencingToken) ~= tonumber(ARGV[1]) then return 0 end
`;

const REFRESH_SCRIPT = `${IS_OURS}
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

const DELETE_SCRIPT = `${IS_OURS}
redis.call('DEL', KEYS[1])
return 1
`;

/** Takes the next fencing token and writes the launched record with it; returns the token. */
export async function createLaunchedRecord(
  client: Redis,
  keys: PairKeys,
  record: { pod: string; since: Date },
  ttlMs: number,
): Promise<number> {
  const token = await client.eval(
    CREATE_SCRIPT,
    2,
    keys.fence,
    keys.launched,
    record.pod,
    record.since.toISOString(),
    ttlMs,
  );
  if (typeof token !== 'number' || !Number.isSafeInteger(token)) {
    throw new Error(`unexpected fencing token ${String(token)} from ${keys.fence}`);
  }
  return token;
}

/** Extends the record's expiry; false when it is gone or belongs to another holder. */
export async function refreshLaunchedRecord(
  client: Redis,
  key: string,
  fencingToken: number,
  ttlMs: number,
): Promise<boolean> {
  return (await client.eval(REFRESH_SCRIPT, 1, key, fencingToken, ttlMs)) === 1;
}

/** Deletes the record only while it still carries `fencingToken`. */
export async function deleteLaunchedRecord(client: Redis, key: string, fencingToken: number): Promise<boolean> {
  return (await client.eval(DELETE_SCRIPT, 1, key, fencingToken)) === 1;
}
