import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BINDINGS_PER_BATCH, TestdataPlan } from './testdata-plan.js';

const drawAll = (plan: TestdataPlan) => ({ shared: plan.sharedNames(), batches: [...plan.batches()] });

describe(TestdataPlan.name, () => {
  it('draws the same names for the same seed and others for another seed', () => {
    assert.deepEqual(drawAll(new TestdataPlan(7, 30, 5, 2)), drawAll(new TestdataPlan(7, 30, 5, 2)));
    assert.notDeepEqual(drawAll(new TestdataPlan(7, 30, 5, 2)), drawAll(new TestdataPlan(8, 30, 5, 2)));
  });

  it('covers every profile once, in order, with its own users, numbering users after the shared ones', () => {
    const sut = new TestdataPlan(1, 2500, 3, 1);
    const { shared, batches } = drawAll(sut);
    assert.equal(shared.length, 1);
    assert.match(shared[0]!, /#1$/);
    const profiles = batches.flatMap((batch) => batch.profiles);
    assert.equal(profiles.length, 2500);
    assert.deepEqual(
      batches.map((batch) => batch.firstProfile),
      batches.map((_, i) => i * sut.profilesPerBatch),
    );
    assert.match(profiles[0]!.userNames[0]!, /#2$/);
    assert.match(profiles[2499]!.userNames[2]!, new RegExp(`#${1 + 2500 * 3}$`));
    assert.equal(sut.totalUsers, 7501);
  });

  it('keeps a batch near its binding budget, and one profile a batch when a profile alone exceeds it', () => {
    const sut = new TestdataPlan(1, 10_000, 100, 100);
    assert.equal(sut.profilesPerBatch, BINDINGS_PER_BATCH / 200);
    assert.equal(new TestdataPlan(1, 3, 9000, 1000).profilesPerBatch, 1);
    assert.equal(new TestdataPlan(1, 5000, 0, 0).profilesPerBatch, 1000);
  });

  it('draws a batch only when it is taken (a million users never sit in memory at once)', () => {
    const sut = new TestdataPlan(3, 10_000, 100, 0);
    const batches = sut.batches();
    const first = batches.next().value!;
    assert.equal(first.profiles.length, sut.profilesPerBatch);
    assert.equal(first.profiles[0]!.userNames.length, 100);
  });
});
