import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { EVENT_SLOT_MS, SharedTimer } from './shared-timer.js';

/** Mocked timers and a monotonic clock that advances with them, 10 ms at a time. */
function clock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let now = 0;
  return {
    now: () => now,
    advance(ms: number) {
      for (let i = 0; i < ms; i += 10) {
        now += 10;
        t.mock.timers.tick(10);
      }
    },
  };
}

/**
 * One member on a 1 s timer whose 50 ms runs each see the clock move by what `run` is given:
 * a loop that runs the timer late. `fired` holds the clock at each firing.
 */
function lateClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let now = 0;
  const fired: number[] = [];
  new SharedTimer<string>(
    1000,
    (_member, at) => fired.push(at),
    () => now,
  ).add('a');
  return {
    fired,
    run(clockMs: number) {
      now += clockMs;
      t.mock.timers.tick(50);
    },
  };
}

describe(SharedTimer.name, () => {
  it('fires each member once a period, the first time about one period after it joined', (t) => {
    const c = clock(t);
    const fired: [string, number][] = [];
    const sut = new SharedTimer<string>(1000, (member, now) => fired.push([member, now]), c.now);
    sut.add('a');
    c.advance(330);
    sut.add('b');
    c.advance(3000);
    const times = (member: string) => fired.filter(([m]) => m === member).map(([, now]) => now);
    assert.equal(times('a').length, 3);
    assert.equal(times('b').length, 3);
    for (const [member, joined] of [
      ['a', 0],
      ['b', 330],
    ] as const) {
      const first = times(member)[0]!;
      assert.ok(first > joined + 1000 - 50 && first <= joined + 1000, `${member} first fired at ${first}`);
      assert.deepEqual(
        times(member).map((time, i) => time - first - i * 1000),
        [0, 0, 0],
      );
    }
  });

  it('spreads members that joined at different times over the period', (t) => {
    const c = clock(t);
    const fired = new Map<number, number[]>();
    const sut = new SharedTimer<number>(
      1000,
      (member, now) => fired.set(member, [...(fired.get(member) ?? []), now]),
      c.now,
    );
    for (let member = 0; member < 10; member++) {
      sut.add(member);
      c.advance(100);
    }
    c.advance(1000);
    const phases = new Set([...fired.values()].map((times) => times[0]! % 1000));
    assert.equal(phases.size, 10);
  });

  it('stops firing a member that left, also when it leaves from inside its own firing', (t) => {
    const c = clock(t);
    const fired: string[] = [];
    const slots = new Map<string, number>();
    const sut: SharedTimer<string> = new SharedTimer<string>(
      100,
      (member) => {
        fired.push(member);
        if (member === 'self') sut.delete(member, slots.get(member)!);
      },
      c.now,
    );
    slots.set('self', sut.add('self'));
    slots.set('other', sut.add('other'));
    c.advance(100);
    sut.delete('other', slots.get('other')!);
    c.advance(500);
    assert.deepEqual(fired, ['self', 'other']);
    assert.equal(sut.size, 0);
  });

  it('keeps the period by the clock when the timer runs late (a busy loop), without repeating a slot in one run', (t) => {
    const c = lateClock(t);
    // Every run of the 50 ms timer comes 50 ms late: the clock moves twice as fast as the runs.
    for (let run = 0; run < 40; run++) c.run(100);
    assert.deepEqual(c.fired, [1000, 2000, 3000, 4000]);
  });

  it('forgives a loop blocked for more than a period: each member fires once, then on from now', (t) => {
    const c = lateClock(t);
    c.run(3500);
    for (let run = 0; run < 30; run++) c.run(50);
    assert.deepEqual(c.fired, [3500, 4500]);
  });

  it('cuts the period into slots of the length it is given: members that joined 20 ms apart fire in different runs', (t) => {
    const firings = (slotMs: number) => {
      const c = clock(t);
      const runs: string[][] = [];
      let lastAt = -1;
      const sut = new SharedTimer<string>(
        1000,
        (member, now) => {
          if (now !== lastAt) runs.push([]);
          lastAt = now;
          runs.at(-1)!.push(member);
        },
        c.now,
        slotMs,
      );
      sut.add('a');
      c.advance(20);
      sut.add('b');
      c.advance(1000);
      t.mock.timers.reset();
      return runs;
    };
    assert.deepEqual(firings(EVENT_SLOT_MS), [['a'], ['b']]);
    assert.deepEqual(firings(50), [['a', 'b']]);
  });

  it('counts a member added twice once', (t) => {
    const c = clock(t);
    const fired: string[] = [];
    const sut = new SharedTimer<string>(100, (member) => fired.push(member), c.now);
    const slot = sut.add('a');
    sut.add('a');
    assert.equal(sut.size, 1);
    c.advance(100);
    assert.deepEqual(fired, ['a']);
    sut.delete('a', slot);
    assert.equal(sut.size, 0);
  });
});
