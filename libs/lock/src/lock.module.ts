import { type DynamicModule, Inject, Logger, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { LaunchedRecords } from './launched-records.js';
import { PairLock } from './pair-lock.js';
import { RedisConnections } from './redis-connections.js';
import { RedisHealthIndicator } from './redis.health.js';
import { REDIS_CLIENT } from './tokens.js';

const providers: Provider[] = [
  {
    provide: RedisConnections,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) =>
      RedisConnections.open(config.redis, `kubescaler:${config.app}:${config.podName}`, new Logger('Redis')),
  },
  {
    provide: REDIS_CLIENT,
    inject: [RedisConnections],
    useFactory: (connections: RedisConnections) => connections.main,
  },
  {
    provide: PairLock,
    inject: [RedisConnections, APP_CONFIG],
    useFactory: (connections: RedisConnections, config: AppConfig) =>
      new PairLock({
        lockClients: connections.lock,
        mainClient: connections.main,
        ttlMs: config.lock.ttlMs,
        renewMs: config.lock.renewMs,
        logger: new Logger(PairLock.name),
      }),
  },
  { provide: LaunchedRecords, inject: [REDIS_CLIENT], useFactory: (client: Redis) => new LaunchedRecords(client) },
  RedisHealthIndicator,
];

/**
 * Redis for the lock and the launched records. Connects at boot (boot fails with the unreachable
 * URLs named); on shutdown revokes the locks still held, then quits every client.
 */
@Module({})
export class LockModule implements OnApplicationShutdown {
  constructor(
    @Inject(RedisConnections) private readonly connections: RedisConnections,
    @Inject(PairLock) private readonly pairLock: PairLock,
  ) {}

  /**
   * Reads `config.redis` and `config.lock` from the injected `APP_CONFIG`. Returns the same object
   * on every call, so importing it again (e.g. into `HealthModule.forRoot`) shares one instance.
   */
  static forRoot(): DynamicModule {
    return (LockModule.module ??= {
      module: LockModule,
      providers,
      exports: [PairLock, LaunchedRecords, REDIS_CLIENT, RedisHealthIndicator],
    });
  }

  private static module: DynamicModule | undefined;

  async onApplicationShutdown(): Promise<void> {
    await this.pairLock.releaseAll();
    await this.connections.close();
  }
}
