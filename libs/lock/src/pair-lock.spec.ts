import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { PairLock, type PairLockOptions } from './pair-lock.js';

// Construction talks to no server, so inert stand-ins are enough here.
const client = {} as Redis;
const options = (overrides: Partial<PairLockOptions>): PairLockOptions => ({
  lockClients: [client],
  mainClient: client,
  ttlMs: 1000,
  renewMs: 200,
  ...overrides,
});

describe(PairLock.name, () => {
  it('starts with nothing held', () => {
    const sut = new PairLock(options({}));
    assert.equal(sut.heldCount, 0);
  });

  it('refuses a renewal interval that leaves no time to renew before the lease ends', () => {
    assert.throws(() => new PairLock(options({ ttlMs: 1000, renewMs: 900 })), /renewMs/);
    assert.throws(() => new PairLock(options({ renewMs: 0 })), /renewMs/);
  });

  it('refuses a lease that is not a positive whole number of milliseconds', () => {
    assert.throws(() => new PairLock(options({ ttlMs: 1000.5 })), /ttlMs/);
    assert.throws(() => new PairLock(options({ ttlMs: 0 })), /ttlMs/);
  });

  it('refuses to run without a lock server', () => {
    assert.throws(() => new PairLock(options({ lockClients: [] })), /at least one lock client/);
  });
});
