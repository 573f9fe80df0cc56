import { type DynamicModule, Inject, Logger, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
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
        ttlMs: config.lock.ttlMs,
        renewMs: config.lock.renewMs,
        logger: new Logger(PairLock.name),
      }),
  },
  {
    provide: LaunchedRecords,
    inject: [RedisConnections],
    useFactory: (connections: RedisConnections) => new LaunchedRecords(connections.lock),
  },
  RedisHealthIndicator,
];

/**
 * The lock servers (pair locks, fencing, launched records) and the `REDIS_URL` client. Connects at
 * boot (boot fails naming the unreachable servers when no majority answers); on shutdown revokes
 * the locks still held, then quits every client.
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
      exports: [PairLock, LaunchedRecords, REDIS_CLIENT, RedisHealthIndicator, RedisConnections],
    });
  }

  private static module: DynamicModule | undefined;

  async onApplicationShutdown(): Promise<void> {
    await this.pairLock.releaseAll();
    this.pairLock.close();
    await this.connections.close();
  }
}
