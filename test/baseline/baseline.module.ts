import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { type StreamConfig, ConfigModule } from '@app/config';
import { loggingModule } from '@app/http';
import { LockModule } from '@app/lock';
import { BaselineController } from './baseline.controller.js';

/** The plain Nest `@Sse()` baseline app (see `BaselineController`). */
@Module({})
export class BaselineModule {
  static forRoot(config: StreamConfig): DynamicModule {
    return {
      module: BaselineModule,
      imports: [ConfigModule.forRoot(config), loggingModule(config), AuthModule, LockModule, BaseClientModule],
      controllers: [BaselineController],
    };
  }
}
