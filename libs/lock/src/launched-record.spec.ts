import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLaunchedRecord } from './launched-record.js';

describe(parseLaunchedRecord.name, () => {
  const sut = parseLaunchedRecord;

  it('reads a record written as JSON, with since as a Date', () => {
    assert.deepEqual(sut('{"pod":"stream-1","since":"2030-01-02T03:04:05.678Z","fencingToken":42}'), {
      pod: 'stream-1',
      since: new Date('2030-01-02T03:04:05.678Z'),
      fencingToken: 42,
    });
  });

  it('returns undefined for a missing or unparsable value', () => {
    for (const raw of [null, undefined, '', 'not json', '42', 'null', '[]', '{"pod":"p"}']) {
      assert.equal(sut(raw), undefined, String(raw));
    }
  });

  it('returns undefined when a field has the wrong type or value', () => {
    for (const raw of [
      '{"pod":1,"since":"2030-01-01T00:00:00Z","fencingToken":1}',
      '{"pod":"p","since":"yesterday","fencingToken":1}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":"1"}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":0}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":1.5}',
    ]) {
      assert.equal(sut(raw), undefined, raw);
    }
  });
});
