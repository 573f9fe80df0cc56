import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializeLaunchedRecord } from './launched-record.js';
import { type RecordsAnswer, tallyLaunchedRecords } from './launched-records.js';

const since = new Date('2031-01-01T00:00:00.000Z');
const record = (owner: string, pod = 'stream-1') => serializeLaunchedRecord({ pod, since, fencingToken: 5, owner });
const values = (...raw: (string | null)[]): RecordsAnswer => ({ values: raw });
const down: RecordsAnswer = { error: 'Connection is closed.' };
const live = { pod: 'stream-1', since, fencingToken: 5 };

describe(tallyLaunchedRecords.name, () => {
  const sut = tallyLaunchedRecords;

  it('reports a record held by the same holder on a majority of servers', () => {
    const verdict = sut(['p1', 'p2'], [values(record('a'), null), values(record('a'), null)], 1, 3);
    assert.deepEqual(verdict, new Map([['p1', live]]));
  });

  it('never reports a record only a minority holds, nor copies of different holders', () => {
    assert.deepEqual(sut(['p1'], [values(record('a')), values(null), values(null)], 0, 3), new Map());
    assert.deepEqual(sut(['p1'], [values(record('a')), values(record('b')), values(null)], 0, 3), new Map());
  });

  it('stays truthful with one of three servers down', () => {
    assert.deepEqual(sut(['p1'], [down, values(record('a')), values(record('a'))], 0, 3), new Map([['p1', live]]));
    assert.deepEqual(sut(['p1'], [down, values(null), values(null)], 0, 3), new Map());
  });

  it('is unavailable once no majority can answer', () => {
    const verdict = sut(['p1'], [down, down], 1, 3);
    assert.ok(verdict && !(verdict instanceof Map));
    assert.match(verdict.unavailable, /2 of 3 lock servers did not answer/);
    assert.ok(!(sut(['p1'], [down], 0, 1) instanceof Map));
  });

  it('waits while a server still out could make a record live, and no longer', () => {
    assert.equal(sut(['p1'], [values(record('a'))], 2, 3), undefined);
    assert.deepEqual(sut(['p1'], [values(null), values(null)], 1, 3), new Map(), 'the third cannot make a majority');
  });

  it('skips values that are not launched records', () => {
    assert.deepEqual(sut(['p1', 'p2'], [values('not json', '{"pod":"p"}')], 0, 1), new Map());
  });
});
