import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { AUTH_READINESS } from '@app/auth';
import { BASE_HEALTH } from '@app/base-client';
import type { MainConfig } from '@app/config';
import { HealthModule } from '@app/health';
import { rootModule } from '@app/http';
import { REDIS_HEALTH } from '@app/lock';
import { ActiveProfilesModule } from './active-profiles/active-profiles.module.js';
import { DirectoryModule } from './directory/directory.module.js';
import { PublishModule } from './publish/publish.module.js';
import { SessionModule } from './session/session.module.js';
import { SuggestedModule } from './suggested/suggested.module.js';
import { TestdataModule } from './testdata/testdata.module.js';

/** main: the REST tier behind /main (users, profiles, live profiles of a user, test data, sign-in). */
@Module({})
export class AppModule {
  static forRoot(config: MainConfig): DynamicModule {
    const health = HealthModule.forRoot(REDIS_HEALTH, BASE_HEALTH, AUTH_READINESS);
    // main's API, served under `/main` (where the ingress routes it); health and metrics stay at the root.
    const api: (Type | DynamicModule)[] = [
      DirectoryModule,
      ActiveProfilesModule,
      SuggestedModule,
      TestdataModule,
      SessionModule.forRoot(config),
      PublishModule,
    ];
    const prefixed = api.map((module) => ('module' in module ? module.module : module));
    return rootModule(AppModule, config, health, [
      ...api,
      RouterModule.register([{ path: 'main', children: prefixed }]),
    ]);
  }
}
