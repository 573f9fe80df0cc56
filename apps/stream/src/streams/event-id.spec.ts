import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@app/errors';
import { formatEventId, isSession, newSession, nextSeq, parseLastEventId } from './event-id.js';
import { MAX_EVENT_ID } from './sequence-anchor.js';

const SESSION = '0123456789abcdef';

const refused = (error: unknown) =>
  error instanceof AppError && error.code === 'INVALID_LAST_EVENT_ID' && error.status === 400;

describe(parseLastEventId.name, () => {
  it('reads seq, history entry and session from an id this service sent', () => {
    assert.deepEqual(parseLastEventId(`42.1733440000000-3.${SESSION}`), {
      seq: 42,
      entry: '1733440000000-3',
      session: SESSION,
    });
    assert.deepEqual(parseLastEventId(` 0.0-0.${SESSION} `), { seq: 0, entry: '0-0', session: SESSION });
  });

  it('still reads a bare seq, as ids were before they carried sessions', () => {
    assert.deepEqual(parseLastEventId('1234'), { seq: 1234 });
    assert.deepEqual(parseLastEventId('0'), { seq: 0 });
  });

  it('treats an absent or empty header as a new client session', () => {
    assert.equal(parseLastEventId(undefined), undefined);
    assert.equal(parseLastEventId(''), undefined);
    assert.equal(parseLastEventId('  '), undefined);
  });

  it('refuses anything that is not an id this stream could have sent with 400 INVALID_LAST_EVENT_ID', () => {
    for (const bad of [
      'abc',
      '-1',
      '1.5',
      '12abc',
      '0x10',
      String(MAX_EVENT_ID + 1),
      '99999999999999999',
      `${MAX_EVENT_ID + 1}.0-0.${SESSION}`,
      `1.0-0.${SESSION.toUpperCase()}`,
      `1.0-0.${SESSION}0`,
      `1.18446744073709551616-0.${SESSION}`,
      `1.5.${SESSION}`,
      ['1', '2'],
    ]) {
      assert.throws(() => parseLastEventId(bad), refused, JSON.stringify(bad));
    }
  });
});

describe(formatEventId.name, () => {
  it('accepts back every id it can emit, up to the largest seq and entry', () => {
    for (const position of [
      { seq: 0, entry: '0-0', session: SESSION },
      { seq: MAX_EVENT_ID, entry: '18446744073709551615-18446744073709551615', session: newSession() },
      { seq: nextSeq(MAX_EVENT_ID), entry: '1733440000000-0', session: newSession() },
    ]) {
      assert.deepEqual(parseLastEventId(formatEventId(position)), position);
    }
  });
});

describe(nextSeq.name, () => {
  it('counts up and starts again at 1 after the largest seq, so no emitted seq is refused', () => {
    assert.equal(nextSeq(0), 1);
    assert.equal(nextSeq(41), 42);
    assert.equal(nextSeq(MAX_EVENT_ID), 1);
  });
});

describe(newSession.name, () => {
  it('names sessions with 16 random hex digits', () => {
    const a = newSession();
    assert.ok(isSession(a), a);
    assert.notEqual(a, newSession());
    assert.equal(isSession('xyz'), false);
    assert.equal(isSession(undefined), false);
  });
});
