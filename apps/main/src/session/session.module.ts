import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import type { MainConfig } from '@app/config';
import { DevLoginController } from './dev-login.controller.js';
import { SessionController } from './session.controller.js';

/** `/main/me`, `/main/logout`, and `/main/dev-login` where development sign-in is on. */
@Module({})
export class SessionModule {
  static forRoot(config: MainConfig): DynamicModule {
    return {
      module: SessionModule,
      imports: [AuthModule, BaseClientModule],
      controllers: [SessionController, ...(config.auth.devLogin ? [DevLoginController] : [])],
    };
  }
}
