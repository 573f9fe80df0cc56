import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { LeaseRenewals, type LeaseRenewalsOptions, type RenewalAnswer, type RenewedLease } from './lease-renewals.js';

const TTL = 1000;
const RENEW = 200;
const MARGIN = 100;

/** On mocked timers the clock is the timers' own (mocked `Date`), which `tick` advances. */
const monotonic = () => Date.now();

interface Round {
  leases: readonly Lease[];
  answer(answers: readonly RenewalAnswer[]): void;
  fail(error: Error): void;
}

class Lease implements RenewedLease {
  expiresAt = monotonic() + TTL;
  constructor(readonly name: string) {}
}

/** Renewals whose rounds are answered by the test, on mocked timers and clock. */
function renewals(overrides: Partial<LeaseRenewalsOptions<Lease>> = {}) {
  const rounds: Round[] = [];
  const losses: [string, string][] = [];
  const sut = new LeaseRenewals<Lease>({
    renewMs: RENEW,
    marginMs: MARGIN,
    now: monotonic,
    renew: (leases) => new Promise((resolve, reject) => rounds.push({ leases, answer: resolve, fail: reject })),
    onLost: (lease, reason) => losses.push([lease.name, reason]),
    ...overrides,
  });
  return { sut, rounds, losses };
}

/** Lets settled rounds run their continuations. */
const flush = () => new Promise<void>((done) => setImmediate(done));
const renewed = () => monotonic() + TTL;

describe(LeaseRenewals.name, () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('renews every lease together in one round every renewMs, and they stay valid', async () => {
    const { sut, rounds, losses } = renewals();
    const leases = [new Lease('a'), new Lease('b'), new Lease('c')];
    for (const lease of leases) sut.add(lease);
    for (let round = 1; round <= 10; round++) {
      mock.timers.tick(RENEW);
      assert.equal(rounds.length, round);
      assert.deepEqual(
        rounds[round - 1]!.leases.map((lease) => lease.name),
        ['a', 'b', 'c'],
      );
      rounds[round - 1]!.answer(leases.map(renewed));
      await flush();
      for (const lease of leases) assert.ok(sut.isValid(lease));
    }
    assert.deepEqual(losses, []);
  });

  it('adds a lease to the next round, at most renewMs after it came', async () => {
    const { sut, rounds } = renewals();
    sut.add(new Lease('a'));
    mock.timers.tick(RENEW / 2);
    sut.add(new Lease('b'));
    mock.timers.tick(RENEW / 2);
    assert.deepEqual(
      rounds[0]!.leases.map((lease) => lease.name),
      ['a', 'b'],
    );
  });

  it('renews leases that came at different times in different rounds, each every renewMs, in ticks of 250 ms', async () => {
    const period = 1000;
    const { sut, rounds } = renewals({ renewMs: period });
    const leases = [new Lease('a'), new Lease('b'), new Lease('c')];
    const renewedAt = new Map<string, number[]>();
    for (const lease of leases) {
      lease.expiresAt = monotonic() + 3 * period;
      sut.add(lease);
      mock.timers.tick(period / 4);
    }
    for (let step = 0; step < 12; step++) {
      mock.timers.tick(period / 4);
      for (const round of rounds.splice(0)) {
        for (const lease of round.leases)
          renewedAt.set(lease.name, [...(renewedAt.get(lease.name) ?? []), monotonic()]);
        round.answer(round.leases.map(() => monotonic() + 3 * period));
        await flush();
      }
    }
    const start = 1_000_000;
    assert.deepEqual(Object.fromEntries(renewedAt), {
      a: [start + period, start + 2 * period, start + 3 * period],
      b: [start + 1.25 * period, start + 2.25 * period, start + 3.25 * period],
      c: [start + 1.5 * period, start + 2.5 * period, start + 3.5 * period],
    });
    for (const lease of leases) assert.ok(sut.isValid(lease));
  });

  it('never starts a second round while one is in flight', async () => {
    const { sut, rounds } = renewals();
    sut.add(new Lease('a'));
    mock.timers.tick(RENEW);
    mock.timers.tick(RENEW);
    mock.timers.tick(RENEW);
    await flush();
    assert.equal(rounds.length, 1);
  });

  it('declares only the refused lease lost, as soon as its round answers', async () => {
    const { sut, rounds, losses } = renewals();
    const [a, b] = [new Lease('a'), new Lease('b')];
    sut.add(a);
    sut.add(b);
    mock.timers.tick(RENEW);
    rounds[0]!.answer([renewed(), { failed: 'the lock is no longer ours' }]);
    await flush();
    assert.deepEqual(losses, [['b', 'renewal failed: the lock is no longer ours']]);
    assert.ok(sut.isValid(a));
    assert.ok(!sut.isValid(b));
    assert.equal(sut.size, 1);
  });

  it('declares every lease of a round that failed as a whole lost', async () => {
    const { sut, rounds, losses } = renewals();
    sut.add(new Lease('a'));
    sut.add(new Lease('b'));
    mock.timers.tick(RENEW);
    rounds[0]!.fail(new Error('connection lost'));
    await flush();
    assert.deepEqual(losses, [
      ['a', 'renewal failed: connection lost'],
      ['b', 'renewal failed: connection lost'],
    ]);
    assert.equal(sut.size, 0);
  });

  it('declares each lease lost by its deadline when a round hangs', () => {
    const { sut, losses } = renewals();
    sut.add(new Lease('a'));
    mock.timers.tick(RENEW / 2);
    sut.add(new Lease('b'));
    mock.timers.tick(TTL - MARGIN - RENEW / 2 - 1);
    assert.deepEqual(losses, []);
    mock.timers.tick(1);
    assert.deepEqual(losses, [['a', 'the lease ran out before a renewal succeeded']]);
    mock.timers.tick(RENEW / 2);
    assert.deepEqual(losses[1], ['b', 'the lease ran out before a renewal succeeded']);
  });

  it('treats a renewal that comes back with an already-over lease as lost', async () => {
    const { sut, rounds, losses } = renewals();
    sut.add(new Lease('a'));
    mock.timers.tick(RENEW);
    rounds[0]!.answer([monotonic() + MARGIN - 1]);
    await flush();
    assert.deepEqual(losses, [['a', 'the renewed lease was already over']]);
  });

  it('refuses a lease that is already too short', () => {
    const { sut, losses } = renewals();
    const lease = new Lease('a');
    lease.expiresAt = monotonic() + MARGIN;
    sut.add(lease);
    assert.deepEqual(losses, [['a', 'the lease expired before it was used']]);
    assert.equal(sut.size, 0);
  });

  it('renews nothing and reports nothing for a lease removed while its round is in flight', async () => {
    const { sut, rounds, losses } = renewals();
    const lease = new Lease('a');
    sut.add(lease);
    mock.timers.tick(RENEW);
    assert.ok(sut.remove(lease));
    rounds[0]!.answer([{ failed: 'late' }]);
    await flush();
    mock.timers.tick(TTL);
    assert.deepEqual(losses, []);
    assert.equal(rounds.length, 1);
  });

  it('reports a loss once, and not again when it is declared twice', () => {
    const { sut, losses } = renewals();
    const lease = new Lease('a');
    sut.add(lease);
    sut.lose(lease, 'revoked');
    sut.lose(lease, 'revoked again');
    assert.deepEqual(losses, [['a', 'revoked']]);
  });

  it('stops its timer once no lease is left, and starts afresh for the next', () => {
    const { sut, rounds } = renewals();
    const first = new Lease('a');
    sut.add(first);
    mock.timers.tick(RENEW / 2);
    sut.remove(first);
    mock.timers.tick(RENEW / 4);
    sut.add(new Lease('b'));
    mock.timers.tick(RENEW / 4);
    assert.equal(rounds.length, 0, 'the first timer would have fired here');
    mock.timers.tick((3 * RENEW) / 4);
    assert.equal(rounds.length, 1);
  });
});
