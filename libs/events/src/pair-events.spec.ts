import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareEntryIds, isEntryId, NO_ENTRY, parseChannelMessage, takenOverMessage } from './pair-events.js';

describe('pair events', () => {
  describe(compareEntryIds.name, () => {
    it('orders entry ids by time, then by sequence, as numbers rather than text', () => {
      assert.equal(compareEntryIds('9-0', '10-0'), -1);
      assert.equal(compareEntryIds('10-2', '10-10'), -1);
      assert.equal(compareEntryIds('10-10', '10-2'), 1);
      assert.equal(compareEntryIds('7-1', '7-1'), 0);
      assert.equal(compareEntryIds(NO_ENTRY, '0-1'), -1);
    });

    it('returns undefined when either side is not an entry id', () => {
      for (const bad of ['', '1', '1-', '-1', '1-2-3', 'a-1', '18446744073709551616-0', ' 1-0']) {
        assert.equal(compareEntryIds(bad, NO_ENTRY), undefined, bad);
        assert.equal(isEntryId(bad), false, bad);
      }
      assert.equal(isEntryId('18446744073709551615-18446744073709551615'), true);
    });
  });

  describe(parseChannelMessage.name, () => {
    it('reads a published event whose data may itself hold new lines', () => {
      assert.deepEqual(parseChannelMessage('5-1\norder.filled\n{"a":"x\ny"}'), {
        kind: 'event',
        event: { id: '5-1', event: 'order.filled', data: '{"a":"x\ny"}' },
      });
      assert.deepEqual(parseChannelMessage('5-2\n\n1'), { kind: 'event', event: { id: '5-2', event: '', data: '1' } });
    });

    it('reads the take-over notice that takenOverMessage writes', () => {
      assert.deepEqual(parseChannelMessage(takenOverMessage(42)), { kind: 'taken-over', fencingToken: 42 });
    });

    it('returns undefined for anything else', () => {
      for (const bad of ['', 'hello', '5-1\nonly-a-name', 'x-1\ne\n{}', '!taken-over soon']) {
        assert.equal(parseChannelMessage(bad), undefined, JSON.stringify(bad));
      }
    });
  });
});
