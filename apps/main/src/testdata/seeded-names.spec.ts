import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededNames, seededRandom } from './seeded-names.js';

describe(SeededNames.name, () => {
  const names = (seed: number) => {
    const sut = new SeededNames(seed);
    return [sut.user(0), sut.profile(0), sut.user(1), sut.profile(1)];
  };

  it('gives the same names for the same seed', () => {
    assert.deepEqual(names(42), names(42));
  });

  it('gives different names for different seeds', () => {
    assert.notDeepEqual(names(1), names(2));
  });

  it('numbers names so they are unique within one data set', () => {
    const sut = new SeededNames(7);
    assert.match(sut.user(0), / #1$/);
    assert.match(sut.profile(9), / #10$/);
  });
});

describe(seededRandom.name, () => {
  it('returns numbers in [0, 1) spread over the range', () => {
    const sut = seededRandom(123);
    const values = Array.from({ length: 1000 }, sut);
    assert.ok(values.every((v) => v >= 0 && v < 1));
    assert.ok(values.some((v) => v < 0.1) && values.some((v) => v > 0.9));
  });
});
