import { Inject, Logger, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { APP_CONFIG, type ClientAppConfig } from '@app/config';
import type { HealthModuleOptions } from '@app/health';
import { LaunchedRecords } from './launched-records.js';
import { PairLock } from './pair-lock.js';
import { RedisConnections } from './redis-connections.js';
import { RedisHealthIndicator } from './redis.health.js';
import { REDIS_CLIENT } from './tokens.js';

const providers: Provider[] = [
  {
    provide: RedisConnections,
    inject: [APP_CONFIG],
    useFactory: (config: ClientAppConfig) =>
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
    useFactory: (connections: RedisConnections, config: ClientAppConfig) =>
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
 * The lock servers (pair locks, fencing, launched records) and the `REDIS_URL` client, built from
 * `config.redis` and `config.lock` of the injected `APP_CONFIG`. A plain module: every import of
 * it in one app shares one instance, so one set of connections. Connects at boot (boot fails
 * naming the unreachable servers when no majority answers); on shutdown revokes the locks still
 * held, then quits every client.
 */
@Module({
  providers,
  exports: [PairLock, LaunchedRecords, REDIS_CLIENT, RedisHealthIndicator, RedisConnections],
})
export class LockModule implements OnApplicationShutdown {
  constructor(
    @Inject(RedisConnections) private readonly connections: RedisConnections,
    @Inject(PairLock) private readonly pairLock: PairLock,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pairLock.releaseAll();
    this.pairLock.close();
    await this.connections.close();
  }
}

/** `/health/ready` checks `REDIS_URL` (`HealthModule.forRoot(REDIS_HEALTH, …)`). */
export const REDIS_HEALTH: HealthModuleOptions = { imports: [LockModule], indicators: [RedisHealthIndicator] };
