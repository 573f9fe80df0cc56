import type { Redis } from 'ioredis';
import { redisServerKey } from '@app/config';
import { asAnswer, onMajority } from './quorum.js';
import { closeRedis, connectRedis, createRedisClient, type LockLogger, SILENT_LOGGER } from './redis-client.js';

export interface RedisConnectionsConfig {
  readonly url: string;
  readonly lockUrls: readonly string[];
  readonly commandTimeoutMs: number;
}

/**
 * One fail-fast client per lock server, and the client of `REDIS_URL` (the lock server's own
 * client when it is one of them). Boot needs a majority of lock servers, not all: the others
 * keep reconnecting in the background, as after any outage.
 */
export class RedisConnections {
  private constructor(
    readonly main: Redis,
    readonly lock: readonly Redis[],
  ) {}

  /** Connects in parallel; fails naming the unreachable servers when no majority answers, leaving nothing open. */
  static async open(
    config: RedisConnectionsConfig,
    clientName: string,
    logger: LockLogger = SILENT_LOGGER,
  ): Promise<RedisConnections> {
    const create = (url: string, role: string) =>
      createRedisClient(url, { commandTimeoutMs: config.commandTimeoutMs, name: `${clientName}:${role}`, logger });
    const mainKey = redisServerKey(config.url);
    const mainIndex = config.lockUrls.findIndex((url) => redisServerKey(url) === mainKey);
    const lock = config.lockUrls.map((url, index) => create(url, index === mainIndex ? 'main' : `lock-${index}`));
    const main = mainIndex >= 0 ? lock[mainIndex]! : create(config.url, 'main');
    const all = mainIndex >= 0 ? lock : [...lock, main];
    const attempt = (client: Redis) => asAnswer(connectRedis(client));
    const [quorum, separateMain] = await Promise.all([
      onMajority(lock.map(attempt)),
      mainIndex >= 0 ? Promise.resolve({ ok: true as const }) : attempt(main),
    ]);
    const failure = [quorum === true ? undefined : quorum, separateMain.ok ? undefined : separateMain.reason].filter(
      Boolean,
    );
    if (failure.length > 0) {
      await Promise.all(all.map(closeRedis));
      throw new Error(failure.join('; '));
    }
    const late = lock.filter((client) => client.status !== 'ready');
    if (late.length > 0) {
      logger.warn(`${late.length} of ${lock.length} lock servers not reachable yet; a majority is, so this pod starts`);
    }
    return new RedisConnections(main, lock);
  }

  /** Quits every client. Never throws. */
  async close(): Promise<void> {
    await Promise.all([...new Set([this.main, ...this.lock])].map(closeRedis));
  }
}
