export { DATASET_KEY, type PairKeys, pairKeys, userStreamsKey } from './keys.js';
export { declaredFresh, Incarnation, type ServerIdentity } from './incarnation.js';
export type { LaunchedRecord } from './launched-record.js';
export { LaunchedRecords } from './launched-records.js';
export { LeaseKeeper, type LeaseKeeperOptions, type LeaseState } from './lease-keeper.js';
export { LockModule, REDIS_HEALTH } from './lock.module.js';
export { type HeldLock, PairLock, type PairLockOptions } from './pair-lock.js';
export { manyKeysArgs } from './lock-scripts.js';
export { quorumOf } from './quorum.js';
export {
  closeRedis,
  connectRedis,
  createRedisClient,
  type LockLogger,
  redisAddress,
  type RedisClientOptions,
} from './redis-client.js';
export { RedisHealthIndicator } from './redis.health.js';
export { REDIS_CLIENT } from './tokens.js';
