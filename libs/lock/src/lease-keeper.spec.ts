import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper.js';

const TTL = 1000;
const RENEW = 200;
const MARGIN = 100;

interface Deferred {
  resolve(expiresAt: number): void;
  reject(error: Error): void;
}

/** On mocked timers the keeper's clock is the timers' own (mocked `Date`), which `tick` advances. */
const monotonic = () => Date.now();

/** A keeper whose renewals are answered by the test, on mocked timers and clock. */
function keeper(overrides: Partial<LeaseKeeperOptions> = {}) {
  const renewals: Deferred[] = [];
  const losses: string[] = [];
  const sut = new LeaseKeeper({
    renewMs: RENEW,
    marginMs: MARGIN,
    expiresAt: monotonic() + TTL,
    now: monotonic,
    renew: () => new Promise<number>((resolve, reject) => renewals.push({ resolve, reject })),
    onLost: (reason) => losses.push(reason),
    ...overrides,
  });
  return { sut, renewals, losses };
}

/** Lets settled renewal promises run their continuations. */
const flush = () => new Promise<void>((done) => setImmediate(done));

describe(LeaseKeeper.name, () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('renews every renewMs and stays valid while renewals succeed', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    for (let round = 1; round <= 10; round++) {
      mock.timers.tick(RENEW);
      assert.equal(renewals.length, round);
      renewals[round - 1]!.resolve(monotonic() + TTL);
      await flush();
      assert.ok(sut.isValid());
    }
    assert.deepEqual(losses, []);
    assert.equal(sut.state, 'active');
  });

  it('never starts a second renewal while one is in flight', async () => {
    const { sut, renewals } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    mock.timers.tick(RENEW);
    mock.timers.tick(RENEW);
    await flush();
    assert.equal(renewals.length, 1);
    renewals[0]!.resolve(monotonic() + TTL);
    await flush();
    mock.timers.tick(RENEW);
    assert.equal(renewals.length, 2);
  });

  it('declares the lease lost as soon as a renewal fails, without waiting for the next tick', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    renewals[0]!.reject(new Error('The operation was unable to achieve a quorum'));
    await flush();
    assert.equal(losses.length, 1);
    assert.match(losses[0]!, /renewal failed: .*quorum/);
    assert.equal(sut.state, 'lost');
    assert.equal(sut.isValid(), false);
  });

  it('declares the lease lost by its deadline when a renewal hangs', async () => {
    const { sut, losses } = keeper();
    sut.start();
    mock.timers.tick(TTL - MARGIN - 1);
    assert.deepEqual(losses, []);
    mock.timers.tick(1);
    assert.equal(losses.length, 1);
    assert.match(losses[0]!, /ran out/);
  });

  it('declares the lease lost instead of extending once local validity is over', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    // The process stalled: a whole lease of (monotonic) time passed before the renewal timer ran.
    mock.timers.setTime(Date.now() + TTL);
    mock.timers.tick(RENEW);
    assert.equal(renewals.length, 0);
    assert.equal(losses.length, 1);
    assert.match(losses[0]!, /expired before it could be renewed/);
  });

  it('treats a renewal that comes back with an already-over lease as lost', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    renewals[0]!.resolve(monotonic() + MARGIN);
    await flush();
    assert.equal(losses.length, 1);
    assert.match(losses[0]!, /already over/);
  });

  it('refuses to start on a lease that is already too short', () => {
    const { sut, losses } = keeper({ expiresAt: monotonic() + MARGIN });
    sut.start();
    assert.equal(sut.state, 'lost');
    assert.equal(losses.length, 1);
  });

  it('reports a loss once and renews nothing after it, even when a late renewal succeeds', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    mock.timers.tick(TTL);
    assert.equal(losses.length, 1);
    renewals[0]!.resolve(monotonic() + TTL);
    await flush();
    sut.lose('again');
    mock.timers.tick(10 * TTL);
    assert.equal(renewals.length, 1);
    assert.equal(losses.length, 1);
    assert.equal(sut.state, 'lost');
  });

  it('stops renewing after stop() and never reports a loss', async () => {
    const { sut, renewals, losses } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    sut.stop();
    renewals[0]!.reject(new Error('late failure'));
    await flush();
    mock.timers.tick(10 * TTL);
    sut.lose('after stop');
    assert.equal(renewals.length, 1);
    assert.deepEqual(losses, []);
    assert.equal(sut.state, 'stopped');
  });

  it('keeps the renewal period from the start of each renewal', async () => {
    const { sut, renewals } = keeper();
    sut.start();
    mock.timers.tick(RENEW);
    mock.timers.tick(50); // the renewal takes 50 ms
    renewals[0]!.resolve(monotonic() + TTL);
    await flush();
    mock.timers.tick(RENEW - 50 - 1);
    assert.equal(renewals.length, 1);
    mock.timers.tick(1);
    assert.equal(renewals.length, 2);
  });

  it('defaults to performance.now(), not Date.now()', () => {
    mock.timers.reset();
    const startedAt = performance.now();
    const sut = new LeaseKeeper({
      renewMs: RENEW,
      marginMs: MARGIN,
      expiresAt: startedAt + TTL,
      renew: () => new Promise<number>(() => undefined),
      onLost: () => undefined,
    });
    assert.ok(sut.isValid());
    assert.ok(sut.isValid(startedAt + TTL - MARGIN - 1));
    assert.equal(sut.isValid(startedAt + TTL - MARGIN), false);
    assert.equal(sut.isValid(Date.now()), false, 'an epoch time is far past any monotonic deadline');
  });
});

/**
 * Wall-clock steps, on real timers and the keeper's default clock, with `Date.now()` stepped the
 * way NTP or an operator steps it: renewals and validity must not notice.
 */
describe(`${LeaseKeeper.name} when the wall clock steps`, () => {
  afterEach(() => mock.restoreAll());

  const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

  /** A keeper on the default clock whose renewals succeed at once until `hang` is set. */
  function realKeeper() {
    const state = { renewals: 0, hang: false, losses: [] as string[] };
    const sut = new LeaseKeeper({
      renewMs: RENEW,
      marginMs: MARGIN,
      expiresAt: performance.now() + TTL,
      renew: () => {
        state.renewals++;
        return state.hang ? new Promise<number>(() => undefined) : Promise.resolve(performance.now() + TTL);
      },
      onLost: (reason) => state.losses.push(reason),
    });
    return { sut, state };
  }

  function stepDateNow(deltaMs: number): void {
    const realNow = Date.now.bind(Date);
    mock.method(Date, 'now', () => realNow() + deltaMs);
  }

  for (const stepMs of [-60_000, 60_000]) {
    it(`keeps renewing, stays valid, and ends one lease after the last renewal across a ${stepMs / 1000} s step`, async () => {
      const { sut, state } = realKeeper();
      sut.start();
      await sleep(RENEW + 50);
      stepDateNow(stepMs);
      const before = state.renewals;
      await sleep(3 * RENEW);
      assert.ok(state.renewals >= before + 2, `renewals went on after the step (${before} → ${state.renewals})`);
      assert.ok(sut.isValid(), 'a valid lease does not look invalid after the step');
      assert.deepEqual(state.losses, []);

      // From now on renewals hang: the lease ends on the monotonic clock, not 60 s later or earlier.
      state.hang = true;
      const lastEnd = performance.now() + TTL;
      await sleep(TTL + 400);
      assert.ok(performance.now() > lastEnd);
      assert.equal(sut.isValid(), false, 'the lease does not look valid past its monotonic end');
      assert.equal(state.losses.length, 1);
      assert.match(state.losses[0]!, /ran out/);
    });
  }
});
