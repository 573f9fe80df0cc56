import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventSchedule } from './event-schedule.js';

describe(EventSchedule.name, () => {
  it('gives one event per period when the timer fires on time', () => {
    const sut = new EventSchedule(250, 0);
    assert.deepEqual(
      [250, 500, 750, 1000].map((now) => sut.take(now)),
      [1, 1, 1, 1],
    );
  });

  it('holds the rate when the timer fires later and later', () => {
    const sut = new EventSchedule(250, 0);
    let sent = 0;
    // Each repeat 10 ms late, as a loaded event loop makes a setInterval.
    for (let now = 260; now <= 10_000; now += 260) sent += sut.take(now);
    assert.equal(sent, 40);
  });

  it('sends what a late tick owes at once, and nothing on a tick that is early', () => {
    const sut = new EventSchedule(1, 0);
    assert.equal(sut.take(3), 3);
    assert.equal(sut.take(3), 0);
    assert.equal(sut.take(2), 0);
  });

  it('forgives a pause longer than the catch-up limit instead of bursting it out', () => {
    const sut = new EventSchedule(250, 0, 1000);
    assert.equal(sut.take(250), 1);
    assert.equal(sut.take(10_250), 4);
    assert.equal(sut.take(10_500), 1);
  });

  it('sends every event of a rate faster than the timer can fire', () => {
    const sut = new EventSchedule(1000 / 3, 0);
    let sent = 0;
    for (let now = 333; now <= 3000; now += 333) sent += sut.take(now);
    assert.equal(sent, 9);
  });

  it('tells when each of the events it handed out was due', () => {
    const sut = new EventSchedule(250, 1000);
    assert.equal(sut.take(1760), 3);
    assert.deepEqual(
      [0, 1, 2].map((i) => sut.dueAt(i, 3)),
      [1250, 1500, 1750],
    );
    assert.equal(sut.take(2000), 1);
    assert.equal(sut.dueAt(0, 1), 2000);
  });

  it('keeps its due times on the forgiven schedule after a long pause', () => {
    const sut = new EventSchedule(250, 0, 1000);
    sut.take(250);
    assert.equal(sut.take(10_250), 4);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => sut.dueAt(i, 4)),
      [9500, 9750, 10_000, 10_250],
    );
  });
});
