import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { TimedRounds } from './timed-rounds.js';

/** Mocked timers and a monotonic clock that advances with them, 10 ms at a time, microtasks run between. */
function clock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let now = 0;
  return {
    now: () => now,
    async advance(ms: number) {
      for (let i = 0; i < ms; i += 10) {
        now += 10;
        t.mock.timers.tick(10);
        await Promise.resolve();
      }
    },
  };
}

describe(TimedRounds.name, () => {
  it('hands the members of one run over together, once that run is done', async (t) => {
    const time = clock(t);
    const rounds: string[][] = [];
    const sut = new TimedRounds<string>(1000, (members) => rounds.push(members), time.now);
    sut.add('a');
    sut.add('b');
    await time.advance(990);
    assert.deepEqual(rounds, []);
    await time.advance(60);
    assert.deepEqual(rounds, [['a', 'b']]);
  });

  it('hands each member over once a period, members that joined later in later rounds', async (t) => {
    const time = clock(t);
    const rounds: string[][] = [];
    const sut = new TimedRounds<string>(1000, (members) => rounds.push(members), time.now);
    sut.add('a');
    await time.advance(500);
    sut.add('b');
    await time.advance(2100);
    assert.deepEqual(rounds, [['a'], ['b'], ['a'], ['b']]);
  });

  it('never hands over a member once deleted, nor any after stop', async (t) => {
    const time = clock(t);
    const rounds: string[][] = [];
    const sut = new TimedRounds<string>(1000, (members) => rounds.push(members), time.now);
    sut.add('a');
    sut.add('b');
    sut.delete('a');
    await time.advance(1100);
    sut.stop();
    sut.add('c');
    await time.advance(3000);
    assert.deepEqual(rounds, [['b']]);
    assert.equal(sut.size, 0);
  });
});
