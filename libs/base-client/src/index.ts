export * from './contract.js';
export { BaseClient, type BaseClientOptions, pageThrough } from './base-client.js';
export { BASE_HEALTH, BASE_TIMEOUT_MS, BaseClientModule, BaseHealthIndicator } from './base-client.module.js';
