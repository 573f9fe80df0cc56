import { Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type BaseConfig } from '@app/config';
import type { HealthModuleOptions } from '@app/health';
import { runMigrations } from '../migrations/migration-runner.js';
import { CassandraHealthIndicator } from './cassandra.health.js';
import { Cql } from './cql.js';

/** Connects at boot (failing boot if Cassandra is unreachable), migrates, closes on shutdown. */
@Module({
  providers: [
    {
      provide: Cql,
      inject: [APP_CONFIG],
      useFactory: async (config: BaseConfig) => {
        const cql = await Cql.connect(config.cassandra);
        try {
          const applied = await runMigrations(cql, config.cassandra);
          if (applied.length > 0) new Logger('Migrations').log(`applied ${applied.join(', ')}`);
        } catch (error) {
          await cql.close();
          throw error;
        }
        return cql;
      },
    },
    CassandraHealthIndicator,
  ],
  exports: [Cql, CassandraHealthIndicator],
})
export class CassandraModule implements OnApplicationShutdown {
  constructor(@Inject(Cql) private readonly cql: Cql) {}

  async onApplicationShutdown(): Promise<void> {
    await this.cql.close();
  }
}

/** `/health/ready` checks that Cassandra answers (`HealthModule.forRoot(CASSANDRA_HEALTH)`). */
export const CASSANDRA_HEALTH: HealthModuleOptions = {
  imports: [CassandraModule],
  indicators: [CassandraHealthIndicator],
};
