import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { REPO_ROOT } from '@app/testing';

/** The web client's pure statistics module (public/js/live-stats.js), loaded as the browser does. */
let stats: any;
before(async () => {
  stats = await import(pathToFileURL(join(REPO_ROOT, 'public/js/live-stats.js')).href);
});

describe('RateWindow', () => {
  const at = (second: number, ms = 0) => second * 1000 + ms;

  it('gives the last 60 whole seconds, oldest first, with zeros where nothing arrived', () => {
    const sut = new stats.RateWindow(60);
    sut.add(at(1000, 100), { bytes: 1000, received: 1 });
    sut.add(at(1000, 900), { bytes: 1500, received: 1, dropped: 2 });
    sut.add(at(1002), { received: 1 });
    const series = sut.series(at(1003, 500));
    assert.equal(series.length, 60);
    assert.equal(series.at(-1).second, 1002);
    assert.equal(series[0].second, 943);
    assert.deepEqual(series.at(-3), { second: 1000, kbps: 20, received: 2, dropped: 2 });
    assert.deepEqual(series.at(-2), { second: 1001, kbps: 0, received: 0, dropped: 0 });
    assert.equal(series.at(-1).received, 1);
  });

  it('leaves out the second still under way and forgets seconds older than the window', () => {
    const sut = new stats.RateWindow(60);
    sut.add(at(100), { received: 5 });
    sut.add(at(161), { received: 1 });
    assert.equal(
      sut.series(at(161, 500)).reduce((sum: number, p: any) => sum + p.received, 0),
      0,
    );
    assert.equal(sut.series(at(162)).at(-1).received, 1);
    assert.ok(sut.series(at(162)).every((p: any) => p.second > 100));
  });
});

describe('eventAge', () => {
  it('is arrival time minus the event timestamp, never negative', () => {
    assert.equal(stats.eventAge(1_000_250, 1_000_000), 250);
    assert.equal(stats.eventAge(1_000_000, 1_000_010), 0);
  });
});
