import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideMajority, gather, quorumOf } from './quorum.js';

describe(quorumOf.name, () => {
  it('is a strict majority', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(quorumOf), [1, 2, 2, 3, 3]);
  });
});

describe(decideMajority.name, () => {
  const sut = decideMajority;
  const ok = { ok: true as const };
  const no = (reason: string) => ({ ok: false as const, reason });

  it('is done once a majority answered ok', () => {
    assert.equal(sut([ok, ok], 1, 3), true);
    assert.equal(sut([ok], 0, 1), true);
  });

  it('names why once a majority can no longer be reached', () => {
    assert.equal(sut([no('the lock is no longer ours')], 0, 1), 'the lock is no longer ours');
    assert.equal(sut([no('timed out'), no('timed out')], 1, 3), '2 of 3 lock servers refused: timed out');
  });

  it('waits while the answers still out could make a majority', () => {
    assert.equal(sut([no('down')], 2, 3), undefined);
    assert.equal(sut([ok], 1, 3), undefined);
  });
});

describe(gather.name, () => {
  const sut = gather;

  it('resolves with the first verdict, without waiting for answers that cannot change it', async () => {
    const never = new Promise<number>(() => undefined);
    const verdict = await sut([Promise.resolve(1), never, Promise.resolve(2)], (answers) =>
      answers.length >= 2 ? answers.reduce((a, b) => a + b) : undefined,
    );
    assert.equal(verdict, 3);
  });

  it('asks for a verdict with nothing pending once every answer is in', async () => {
    const seen: number[] = [];
    const verdict = await sut([Promise.resolve('a'), Promise.resolve('b')], (answers, pending) => {
      seen.push(pending);
      return pending === 0 ? answers.join('') : undefined;
    });
    assert.equal(verdict.length, 2);
    assert.deepEqual(seen, [1, 0]);
  });
});
