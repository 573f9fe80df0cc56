import type { Redis } from 'ioredis';
import { pairEventKeys } from './keys.js';

/** How many published events each pair keeps, and for how long (`STREAM_HISTORY_*`). */
export interface HistoryBounds {
  readonly maxEvents: number;
  readonly maxAgeMs: number;
}

/** One published event as stored in the pair's history and sent on its channel. */
export interface PublishedEvent {
  /** The Redis stream entry id, `<ms>-<n>`: increasing per pair, assigned by Redis. */
  readonly id: string;
  /** The SSE event name; '' for the default (`message`). */
  readonly event: string;
  /** The JSON text of the data, on one line. */
  readonly data: string;
}

/** What a resuming stream finds in the pair's history after the entry it last had. */
export interface HistoryRead {
  /** The events after it, in order. */
  readonly events: readonly PublishedEvent[];
  /** True when events after it may have been trimmed (count, age) or lost: the history cannot fill the gap. */
  readonly lost: boolean;
  /** Where the client stands after it learnt of the loss: the newest entry gone from the history ('0-0' when all of it is gone). */
  readonly resumeAt: string;
}

/** The entry id before every real one. */
export const NO_ENTRY = '0-0';

/**
 * Appends one event and announces it, atomically, so every subscriber sees the pair's events in
 * history order. KEYS: events, trimmed marker, channel. ARGV: event name, data JSON, max events,
 * max age ms. Trims by count (exact), then by age (entries older than max age), remembering the
 * newest entry it trimmed (Redis itself does not record trimmed ids), and lets an idle pair's
 * history expire with its newest event. → the new entry id.
 */
const PUBLISH = `
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'd', ARGV[2])
local trimmed
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[3])
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  trimmed = gone[#gone][1]
  redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[3])
end
local cutoff = string.format('%d', tonumber(string.match(id, '^(%d+)-')) - tonumber(ARGV[4]))
local aged = redis.call('XREVRANGE', KEYS[1], '(' .. cutoff .. '-0', '-', 'COUNT', 1)
if #aged > 0 then
  trimmed = aged[1][1]
  redis.call('XTRIM', KEYS[1], 'MINID', cutoff)
end
if trimmed then redis.call('SET', KEYS[2], trimmed) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
redis.call('PUBLISH', KEYS[3], id .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2])
return id
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** Publishes `data` (JSON text, one line) as `event` ('' = default) to the pair; resolves with its entry id. */
export async function publishPairEvent(
  redis: Redis,
  userId: string,
  profileId: string,
  event: string,
  data: string,
  bounds: HistoryBounds,
): Promise<string> {
  const commands = redis as unknown as Record<string, Call | undefined>;
  if (typeof commands.kubescalerPublish !== 'function') {
    redis.defineCommand('kubescalerPublish', { numberOfKeys: 3, lua: PUBLISH });
  }
  const keys = pairEventKeys(userId, profileId);
  const id = await commands.kubescalerPublish!.call(
    redis,
    keys.events,
    keys.eventsTrimmed,
    keys.channel,
    event,
    data,
    bounds.maxEvents,
    bounds.maxAgeMs,
  );
  return String(id);
}

/** A message of a pair's channel: a published event, or a notice that a newer stream took the pair over. */
export type ChannelMessage =
  | { readonly kind: 'event'; readonly event: PublishedEvent }
  | { readonly kind: 'taken-over'; readonly fencingToken: number };

/** The channel message that tells the pair's previous stream it was taken over by `fencingToken`. */
export function takenOverMessage(fencingToken: number): string {
  return `!taken-over ${fencingToken}`;
}

/** Parses a channel message; undefined for anything else. */
export function parseChannelMessage(message: string): ChannelMessage | undefined {
  if (message.startsWith('!taken-over ')) {
    const fencingToken = Number(message.slice('!taken-over '.length));
    return Number.isSafeInteger(fencingToken) ? { kind: 'taken-over', fencingToken } : undefined;
  }
  const first = message.indexOf('\n');
  const second = first < 0 ? -1 : message.indexOf('\n', first + 1);
  if (second < 0) return undefined;
  const id = message.slice(0, first);
  if (compareEntryIds(id, NO_ENTRY) === undefined) return undefined;
  return { kind: 'event', event: { id, event: message.slice(first + 1, second), data: message.slice(second + 1) } };
}

const ENTRY_ID = /^(\d{1,20})-(\d{1,20})$/;
const MAX_ENTRY_PART = 2n ** 64n - 1n;

/** Whether `id` is a Redis stream entry id (`<ms>-<n>`, each part a 64-bit unsigned integer). */
export function isEntryId(id: string): boolean {
  return compareEntryIds(id, NO_ENTRY) !== undefined;
}

/** -1, 0 or 1 as `a` is before, equal to or after `b`; undefined when either is not an entry id. */
export function compareEntryIds(a: string, b: string): -1 | 0 | 1 | undefined {
  const x = parseEntryId(a);
  const y = parseEntryId(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 2; i++) {
    if (x[i]! !== y[i]!) return x[i]! < y[i]! ? -1 : 1;
  }
  return 0;
}

function parseEntryId(id: string): [bigint, bigint] | undefined {
  const match = ENTRY_ID.exec(id);
  if (!match) return undefined;
  const parts: [bigint, bigint] = [BigInt(match[1]!), BigInt(match[2]!)];
  return parts[0] <= MAX_ENTRY_PART && parts[1] <= MAX_ENTRY_PART ? parts : undefined;
}

/**
 * The pair's events after entry `after`, and whether the history still covers everything since
 * it: the publish script remembers the newest entry it trimmed, so `lost` is exact while the
 * history exists. A history that expired (the pair was idle longer than its age bound) or was
 * lost cannot say: `lost` is then true whenever `after` is a real entry.
 */
export async function readPairHistory(
  redis: Redis,
  userId: string,
  profileId: string,
  after: string,
  limit: number,
): Promise<HistoryRead> {
  const keys = pairEventKeys(userId, profileId);
  const results = await redis
    .multi()
    .exists(keys.events)
    .get(keys.eventsTrimmed)
    .xrange(keys.events, `(${after}`, '+', 'COUNT', limit)
    .exec();
  const [[existsError, exists], [trimmedError, trimmed], [rangeError, range]] = results as [
    [Error | null, number],
    [Error | null, string | null],
    [Error | null, [string, string[]][]],
  ];
  const error = existsError ?? trimmedError ?? rangeError;
  if (error) throw error;
  if (exists === 0) return { events: [], lost: after !== NO_ENTRY, resumeAt: NO_ENTRY };
  const newestGone = trimmed ?? NO_ENTRY;
  const events = range.map(([id, values]) => {
    const record = new Map<string, string>();
    for (let i = 0; i + 1 < values.length; i += 2) record.set(values[i]!, values[i + 1]!);
    return { id, event: record.get('e') ?? '', data: record.get('d') ?? 'null' };
  });
  const lost = (compareEntryIds(after, newestGone) ?? -1) < 0;
  return { events, lost, resumeAt: lost ? newestGone : after };
}

/** The newest entry id of the pair's history ('0-0' when it has none). */
export async function lastPairEntry(redis: Redis, userId: string, profileId: string): Promise<string> {
  const newest = await redis.xrevrange(pairEventKeys(userId, profileId).events, '+', '-', 'COUNT', 1);
  return newest[0]?.[0] ?? NO_ENTRY;
}
