import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkRate } from './link-rate.js';

describe(LinkRate.name, () => {
  it('adds what the link carried in the time that passed, however late the refill comes', () => {
    const sut = new LinkRate(100_000, 100, 0);
    assert.equal(sut.refill(0, 20), 2000);
    // A timer that fired 60 ms late still credits the 80 ms that passed.
    assert.equal(sut.refill(0, 100), 8000);
  });

  it('banks at most maxBankMs worth, so a reader idle for long does not burst', () => {
    const sut = new LinkRate(100_000, 100, 0);
    assert.equal(sut.refill(0, 5000), 10_000);
    assert.equal(sut.refill(10_000, 5020), 10_000);
  });

  it('pays back an overdraft (a read larger than the budget) before the reader may read again', () => {
    const sut = new LinkRate(100_000, 100, 0);
    assert.equal(sut.refill(-6000, 40), -2000);
    assert.equal(sut.refill(-2000, 60), 0);
  });

  it('never credits time running backwards', () => {
    const sut = new LinkRate(100_000, 100, 50);
    assert.equal(sut.refill(500, 10), 500);
  });

  it('refuses a link without a positive rate', () => {
    assert.throws(() => new LinkRate(0, 100), /rate > 0/);
  });
});
