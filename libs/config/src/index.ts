export {
  type AppName,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  STREAM_SOURCE_NAMES,
  type StreamSourceName,
} from './app-config.js';
export {
  type AppConfig,
  type AuthConfig,
  type BaseConfig,
  type ClientAppConfig,
  ConfigError,
  type ConfigOf,
  loadConfig,
  type MainConfig,
  redisServerKey,
  type StreamConfig,
} from './load-config.js';
export { APP_CONFIG, ConfigModule, InjectConfig } from './config.module.js';
