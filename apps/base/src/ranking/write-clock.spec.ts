import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteClock } from './write-clock.js';

describe(WriteClock.name, () => {
  it('gives microseconds of the wall clock', () => {
    const sut = new WriteClock(() => 1_700_000_000_123.456);
    assert.equal(sut.next(), 1_700_000_000_123_456n);
  });

  it('strictly increases when the clock stands still or steps back', () => {
    let now = 1000;
    const sut = new WriteClock(() => now);
    const a = sut.next();
    const b = sut.next();
    now = 999;
    const c = sut.next();
    assert.ok(a < b && b < c, `${a} < ${b} < ${c}`);
  });
});
