import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@app/config';
import { bootstrapHttpApp } from '@app/http';
import { AppModule } from './app.module.js';
import { requireServiceCredential } from './service-auth/service-credential.js';

const config = loadConfig('base', process.env);
await bootstrapHttpApp(AppModule.forRoot(config), config, (app) => {
  requireServiceCredential(app, config);
  if (!config.internalToken) {
    new Logger('ServiceCredential').warn('INTERNAL_TOKEN is not set: base accepts only the admin token');
  }
});
