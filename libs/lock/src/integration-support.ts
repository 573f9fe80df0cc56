// Helpers for this lib's integration specs only (not exported from the barrel).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError, type ErrorCode } from '@app/errors';
import type { HeldLock } from './pair-lock.js';
import { connectRedis, createRedisClient } from './redis-client.js';

export const TEST_TTL_MS = 1000;
export const TEST_RENEW_MS = 200;
export const TEST_COMMAND_TIMEOUT_MS = 300;

/** A connected fail-fast client, as the module would build it. */
export async function connectedClient(url: string, name = 'lock-test'): Promise<Redis> {
  const client = createRedisClient(url, { commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS, name });
  await connectRedis(client);
  return client;
}

/** A pair nobody else in the run uses. */
export function freshPair(): { userId: string; profileId: string } {
  return { userId: randomUUID(), profileId: randomUUID() };
}

/** Resolves with the reason and the time (performance.now()) at which `held` reports its loss. */
export function lostAt(held: HeldLock): Promise<{ reason: string; at: number }> {
  return new Promise((resolve) => held.onLost((reason) => resolve({ reason, at: performance.now() })));
}

/** Asserts that `promise` rejects with an `AppError` of `code`, and returns that error. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
