// The plain Nest `@Sse()` baseline for `npm run bench`: `node test/dist/baseline/main.js`, configured
// by the same environment variables as stream (PORT, BASE_URL, REDIS_URL, STREAM_EVENTS_PER_SECOND …).
import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { bootstrapHttpApp } from '@app/http';
import { BaselineModule } from './baseline.module.js';

const config = loadConfig('stream', process.env);
await bootstrapHttpApp(BaselineModule.forRoot(config), config);
