import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { AcquireAnswer } from './lock-server.js';
import { decideAcquire, PairLock, type PairLockOptions } from './pair-lock.js';

// Construction talks to no server (the clients never connect), so inert emitters are enough here.
const inertClient = () => Object.assign(new EventEmitter(), { status: 'wait' }) as unknown as Redis;
const options = (overrides: Partial<PairLockOptions>): PairLockOptions => ({
  lockClients: [inertClient()],
  ttlMs: 1000,
  renewMs: 200,
  ...overrides,
});

const granted = (fence: number, counts = true): AcquireAnswer => ({ kind: 'granted', fence, counts });
const busy: AcquireAnswer = { kind: 'busy' };
const down: AcquireAnswer = { kind: 'refused', reason: 'Connection is closed.' };

describe(PairLock.name, () => {
  it('starts with nothing held', () => {
    const sut = new PairLock(options({}));
    assert.equal(sut.heldCount, 0);
    assert.equal(sut.votingServers, 0, 'no server votes before it was identified');
    assert.equal(new PairLock(options({ lockClients: [inertClient(), inertClient(), inertClient()] })).quorum, 2);
  });

  it('refuses a renewal interval that leaves no time to renew before the lease ends', () => {
    assert.throws(() => new PairLock(options({ ttlMs: 1000, renewMs: 900 })), /renewMs/);
    assert.throws(() => new PairLock(options({ renewMs: 0 })), /renewMs/);
  });

  it('refuses a lease that is not a positive whole number of milliseconds', () => {
    assert.throws(() => new PairLock(options({ ttlMs: 1000.5 })), /ttlMs/);
    assert.throws(() => new PairLock(options({ ttlMs: 0 })), /ttlMs/);
  });

  it('refuses to run without a lock server, or with one server counted twice', () => {
    assert.throws(() => new PairLock(options({ lockClients: [] })), /at least one lock client/);
    const client = inertClient();
    assert.throws(() => new PairLock(options({ lockClients: [client, client] })), /same lock client twice/);
  });
});

describe(decideAcquire.name, () => {
  const sut = decideAcquire;

  it('grants once a majority of voting servers granted, with the highest fencing value any of them handed out', () => {
    assert.deepEqual(sut([granted(7), granted(9)], 1, 3), { kind: 'acquired', fencingToken: 9 });
    assert.deepEqual(sut([granted(5)], 0, 1), { kind: 'acquired', fencingToken: 5 });
  });

  it('takes a quarantined server’s higher fencing value but never its vote', () => {
    assert.equal(sut([granted(3), granted(40, false)], 1, 3), undefined, 'waits for the third server');
    assert.deepEqual(sut([granted(3), granted(40, false), granted(4)], 0, 3), { kind: 'acquired', fencingToken: 40 });
    assert.equal(sut([granted(9, false)], 0, 1)?.kind, 'unavailable', 'one restarted server alone never grants');
    assert.match((sut([granted(9, false)], 0, 1) as { reason: string }).reason, /less than a lease ago/);
  });

  it('calls the pair busy when a majority says it is locked, though one of three is down', () => {
    assert.equal(sut([busy, busy], 1, 3)?.kind, 'busy');
    assert.equal(sut([busy, down, busy], 0, 3)?.kind, 'busy');
    assert.equal(sut([busy], 0, 1)?.kind, 'busy');
  });

  it('fails closed as unavailable when no majority decides either way', () => {
    assert.equal(sut([busy, down, down], 0, 3)?.kind, 'unavailable');
    assert.equal(sut([busy, granted(2), down], 0, 3)?.kind, 'unavailable');
    assert.equal(sut([down], 0, 1)?.kind, 'unavailable');
    assert.match((sut([down, down, down], 0, 3) as { reason: string }).reason, /Connection is closed/);
  });

  it('waits while the answers still out could change the verdict, and no longer', () => {
    assert.equal(sut([granted(1)], 2, 3), undefined);
    assert.equal(sut([busy], 2, 3), undefined);
    assert.equal(sut([down, down], 1, 3)?.kind, 'unavailable', 'the third cannot make a majority either way');
  });
});
