export {
  type AppConfig,
  type AppName,
  type AuthConfig,
  type AuthMode,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  STREAM_SOURCE_NAMES,
  type StreamSourceName,
} from './app-config.js';
export { ConfigError, loadConfig, redisServerKey } from './load-config.js';
export { APP_CONFIG, ConfigModule, InjectConfig } from './config.module.js';
