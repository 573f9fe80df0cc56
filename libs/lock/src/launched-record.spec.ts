import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLaunchedRecord, serializeLaunchedRecord } from './launched-record.js';

describe(parseLaunchedRecord.name, () => {
  const sut = parseLaunchedRecord;

  it('reads a record written as JSON, with since as a Date', () => {
    assert.deepEqual(sut('{"pod":"stream-1","since":"2030-01-02T03:04:05.678Z","fencingToken":42,"owner":"a1b2"}'), {
      pod: 'stream-1',
      since: new Date('2030-01-02T03:04:05.678Z'),
      fencingToken: 42,
      owner: 'a1b2',
    });
  });

  it('reads back what serializeLaunchedRecord wrote', () => {
    const record = {
      pod: 'p',
      since: new Date('2031-05-06T07:08:09.010Z'),
      fencingToken: 1_796_161_448_123,
      owner: 'f00',
    };
    assert.deepEqual(sut(serializeLaunchedRecord(record)), record);
  });

  it('returns undefined for a missing or unparsable value', () => {
    for (const raw of [null, undefined, '', 'not json', '42', 'null', '[]', '{"pod":"p"}']) {
      assert.equal(sut(raw), undefined, String(raw));
    }
  });

  it('returns undefined when a field has the wrong type or value, or no owner is named', () => {
    for (const raw of [
      '{"pod":1,"since":"2030-01-01T00:00:00Z","fencingToken":1,"owner":"o"}',
      '{"pod":"p","since":"yesterday","fencingToken":1,"owner":"o"}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":"1","owner":"o"}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":0,"owner":"o"}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":1.5,"owner":"o"}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":1}',
      '{"pod":"p","since":"2030-01-01T00:00:00Z","fencingToken":1,"owner":""}',
    ]) {
      assert.equal(sut(raw), undefined, raw);
    }
  });
});
