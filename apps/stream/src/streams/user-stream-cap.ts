import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type StreamConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { manyKeysArgs, REDIS_CLIENT, userStreamsKey } from '@app/lock';

/**
 * Reserves a place among the user's streams. KEYS: the user's set. ARGV: member
 * (`<profileId>:<random>`), the cap, lease ms. Expired members go first; streams of the same
 * profile count once (a take-over, a dead stream not yet expired); → 1 reserved, 0 at the cap.
 * Times are the server's (`TIME`), so pods' clocks never disagree about expiry.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local profile = string.match(ARGV[1], '^([^:]+):')
local profiles, count = {}, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local other = string.match(member, '^([^:]+):')
  if other ~= profile and not profiles[other] then
    profiles[other] = true
    count = count + 1
  end
end
if count >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * Extends live members. KEYS: one user's set per member. ARGV: lease ms, then the members, in
 * the order of KEYS. Each member is extended on its own (a set that is not one fails only
 * itself); → the number of members.
 */
const REFRESH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ends = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.pcall('ZADD', key, 'XX', ends, ARGV[i + 1])
  if redis.call('EXISTS', key) == 1 then redis.pcall('PEXPIRE', key, ARGV[1]) end
end
return #KEYS
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** One stream's place among its user's streams. */
export interface UserStreamPlace {
  readonly userId: string;
  readonly member: string;
}

/**
 * The per-user cap on live streams across every pod (`STREAM_MAX_PER_USER`): a sorted set per
 * user on `REDIS_URL`, one member per stream scored by when its lease ends, renewed with the
 * lock and removed when the stream ends. Checked before the lock, so a refused stream never
 * touches the pair. A quota, not a safety property: when Redis cannot answer, the stream is
 * admitted (logged) and the lock decides.
 */
@Injectable()
export class UserStreamCap {
  private readonly logger = new Logger(UserStreamCap.name);
  private readonly max: number;
  private readonly leaseMs: number;

  constructor(
    @InjectConfig() config: StreamConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {
    this.max = config.stream.maxPerUser;
    this.leaseMs = config.lock.ttlMs;
    redis.defineCommand('kubescalerCapReserve', { numberOfKeys: 1, lua: RESERVE });
    // The number of keys is the call's first argument.
    redis.defineCommand('kubescalerCapRefresh', { lua: REFRESH });
  }

  /** Reserves a place for a stream of `profileId`; throws 429 `TOO_MANY_STREAMS` at the cap. */
  async reserve(userId: string, profileId: string, owner: string): Promise<UserStreamPlace> {
    const place = { userId, member: `${profileId}:${owner}` };
    let reserved: unknown;
    try {
      reserved = await this.call('kubescalerCapReserve', userStreamsKey(userId), place.member, this.max, this.leaseMs);
    } catch (error) {
      this.logger.warn(`cannot check the stream cap of ${userId}, admitting: ${(error as Error).message}`);
      return place;
    }
    if (reserved !== 1) throw AppError.of('TOO_MANY_STREAMS', { maxPerUser: this.max });
    return place;
  }

  /**
   * Renews the places of live streams: one command, not one per place (a command's objects live
   * until its answer). Never throws.
   */
  async refresh(places: readonly UserStreamPlace[]): Promise<void> {
    if (places.length === 0) return;
    const keys = places.map((place) => userStreamsKey(place.userId));
    const members = places.map((place) => place.member);
    await this.call('kubescalerCapRefresh', ...manyKeysArgs(keys, this.leaseMs, members)).catch((error: unknown) => {
      this.logger.warn(`stream cap places not renewed: ${(error as Error).message}`);
    });
  }

  /** Gives the place back. Never throws (an unreleased place expires with its lease). */
  async release(place: UserStreamPlace): Promise<void> {
    await this.redis.zrem(userStreamsKey(place.userId), place.member).catch((error: unknown) => {
      this.logger.debug(`stream cap place of ${place.userId} not released: ${(error as Error).message}`);
    });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return (this.redis as unknown as Record<string, Call>)[name]!.call(this.redis, ...args);
  }
}
