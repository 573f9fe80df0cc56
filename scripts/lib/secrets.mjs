import { randomBytes } from 'node:crypto';

/**
 * `process.env[name]` when set, else a fresh random secret of `bytes` bytes (base64url), for the
 * processes one run command starts. Returns `{ value, generated }`.
 */
export function envOrGenerated(name, bytes) {
  const value = process.env[name];
  return value ? { value, generated: false } : { value: randomBytes(bytes).toString('base64url'), generated: true };
}

/** The user-token secret of a run: `AUTH_JWT_SECRET` from the environment, or 32 random bytes. */
export function authSecret() {
  return envOrGenerated('AUTH_JWT_SECRET', 32);
}

/** The internal service credential of a run (base accepts it from main and stream): `INTERNAL_TOKEN`, or 32 random bytes. */
export function internalToken() {
  return envOrGenerated('INTERNAL_TOKEN', 32);
}
