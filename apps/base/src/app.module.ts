import { type DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@app/config';
import { HealthModule } from '@app/health';
import { rootModule } from '@app/http';
import { CASSANDRA_HEALTH } from './cassandra/cassandra.module.js';
import { ProfilesModule } from './profiles/profiles.module.js';
import { StatsModule } from './stats/stats.module.js';
import { UsersModule } from './users/users.module.js';

/** base: owns Cassandra and serves users, profiles and their bindings. Internal only. */
@Module({})
export class AppModule {
  static forRoot(config: BaseConfig): DynamicModule {
    return rootModule(AppModule, config, HealthModule.forRoot(CASSANDRA_HEALTH), [
      UsersModule,
      ProfilesModule,
      StatsModule,
    ]);
  }
}
