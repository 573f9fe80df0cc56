import { type DynamicModule, Inject, Module } from '@nestjs/common';
import type { AppConfig } from './load-config.js';

/** Injection token of the app's frozen `AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Parameter decorator: `constructor(@InjectConfig() config: AppConfig)`. */
export const InjectConfig = () => Inject(APP_CONFIG);

@Module({})
export class ConfigModule {
  /**
   * Provides the already-validated config to the whole app. Global on purpose: configuration is
   * the one dependency every module has, and it is built before the module graph (in main.ts or a test).
   */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
