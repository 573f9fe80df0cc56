import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manyKeysArgs } from './lock-scripts.js';

describe(manyKeysArgs.name, () => {
  it('puts the number of keys first, then the keys, the leading argument and the values in order', () => {
    assert.deepEqual(manyKeysArgs(['k1', 'k2', 'k3'], 5000, ['a', 'b']), [3, 'k1', 'k2', 'k3', 5000, 'a', 'b']);
  });

  it('is the number 0 and the leading argument alone for no items', () => {
    assert.deepEqual(manyKeysArgs([], 'ttl', []), [0, 'ttl']);
  });
});
