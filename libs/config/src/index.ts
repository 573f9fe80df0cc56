export type { AppConfig, AppName, AuthConfig, AuthMode, LogLevel } from './app-config.js';
export { ConfigError, loadConfig, redisServerKey } from './load-config.js';
export { APP_CONFIG, ConfigModule, InjectConfig } from './config.module.js';
