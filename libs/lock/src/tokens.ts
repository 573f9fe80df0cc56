/** Injection token of the main ioredis client (`REDIS_URL`), connected and fail-fast. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
