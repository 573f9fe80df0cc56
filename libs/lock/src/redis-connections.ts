import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, type LockLogger } from './redis-client.js';

export interface RedisConnectionsConfig {
  readonly url: string;
  readonly lockUrls: readonly string[];
  readonly commandTimeoutMs: number;
}

/** The main client and the Redlock members, one connection per distinct URL, all connected. */
export class RedisConnections {
  private constructor(
    readonly main: Redis,
    readonly lock: readonly Redis[],
  ) {}

  /** Connects every distinct URL in parallel; fails naming the unreachable ones, leaving nothing open. */
  static async open(
    config: RedisConnectionsConfig,
    clientName: string,
    logger?: LockLogger,
  ): Promise<RedisConnections> {
    const byUrl = new Map<string, Redis>();
    const clientFor = (url: string, role: string) => {
      let client = byUrl.get(url);
      if (!client) {
        client = createRedisClient(url, {
          commandTimeoutMs: config.commandTimeoutMs,
          name: `${clientName}:${role}`,
          logger,
        });
        byUrl.set(url, client);
      }
      return client;
    };
    const main = clientFor(config.url, 'main');
    const lock = config.lockUrls.map((url, index) => clientFor(url, `lock-${index}`));
    const results = await Promise.allSettled([...byUrl.values()].map((client) => connectRedis(client)));
    const failures = results.flatMap((result) =>
      result.status === 'rejected' ? [String(result.reason?.message)] : [],
    );
    if (failures.length > 0) {
      await Promise.all([...byUrl.values()].map(closeRedis));
      throw new Error(failures.join('; '));
    }
    return new RedisConnections(main, lock);
  }

  /** Quits every distinct client. Never throws. */
  async close(): Promise<void> {
    await Promise.all([...new Set([this.main, ...this.lock])].map(closeRedis));
  }
}
