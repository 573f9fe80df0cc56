import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapWithConcurrency } from './concurrency.js';

const tick = () => new Promise((done) => setImmediate(done));

describe(mapWithConcurrency.name, () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const sut = await mapWithConcurrency([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      running--;
      return n * 10;
    });
    assert.deepEqual(sut, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(peak, 3);
  });

  it('starts nothing new after a failure and settles only when the tasks in flight have', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    await assert.rejects(
      mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await tick();
        if (n === 1) throw new Error('boom');
        await tick();
        finished.push(n);
      }),
      /boom/,
    );
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(finished, [0]);
  });

  it('resolves to an empty list for no items', async () => {
    assert.deepEqual(await mapWithConcurrency([], 4, async () => 1), []);
  });
});
