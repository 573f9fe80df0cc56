import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { bootstrapHttpApp } from '@app/http';
import { AppModule } from './app.module.js';
import { capHeapGrowth } from './runtime/heap-growth.js';
import { addWebSecurityHeaders } from './web/security-headers.js';
import { PUBLIC_DIR } from './web/web.module.js';

const config = loadConfig('stream', process.env);
capHeapGrowth(config.stream.heapGrowingPercent);
await bootstrapHttpApp(AppModule.forRoot(config), config, (app) => {
  addWebSecurityHeaders(app);
  app.useStaticAssets({ root: PUBLIC_DIR, prefix: '/', index: ['index.html'], cacheControl: false });
});
