export { BaseClient, type BaseClientOptions, type Paged, type ProfileDto, type UserDto } from './base-client.js';
export { BASE_TIMEOUT_MS, BaseClientModule, BaseHealthIndicator } from './base-client.module.js';
