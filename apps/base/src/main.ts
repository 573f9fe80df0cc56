import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { bootstrapHttpApp } from '@app/http';
import { AppModule } from './app.module.js';

const config = loadConfig('base', process.env);
await bootstrapHttpApp(AppModule.forRoot(config), config);
