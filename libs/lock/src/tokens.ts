/**
 * Injection token of the `REDIS_URL` client, connected and fail-fast. Nothing of the pair lock,
 * fencing or launched records uses it: it is for data that may be lost (best effort).
 */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
