export {
  addServiceUrl,
  type AppProcess,
  freePort,
  isServiceUrl,
  launchNodeApp,
  REPO_ROOT,
  startApp,
  testInternalToken,
} from './app-process.js';
export { type JsonResponse, request, type RequestOptions } from './http.js';
export { type AuthOption, mintUserToken, type MintOptions, pathUser, testAuthSecret, withAuth } from './auth.js';
export { testConfig, testInfra, uniqueKeyspace } from './infra.js';
export { TcpProxy } from './tcp-proxy.js';
export { RedisServer, type RedisServerOptions } from './redis-server.js';
export { eventually } from './eventually.js';
export { jsonLogLines, type LogLine } from './logs.js';
