import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { continueSequence, MAX_EVENT_ID, parseSequenceAnchor } from './sequence-anchor.js';

describe(continueSequence.name, () => {
  const anchor = { seq: 100, timestamp: 1_000_000, periodMs: 250 };

  it('continues after the events that fell due while the client was away', () => {
    // 10 s after event 100 (4 per second): events 101–140 were due; the next stream starts at 141.
    assert.equal(continueSequence(95, anchor, 1_010_000), 140);
  });

  it('never goes back behind what the client already has', () => {
    assert.equal(continueSequence(500, anchor, 1_010_000), 500);
    // This pod's clock 5 s behind the previous pod's: no negative gap.
    assert.equal(continueSequence(100, anchor, 995_000), 100);
  });

  it('continues right after Last-Event-ID when no anchor is known', () => {
    assert.equal(continueSequence(42, undefined, 1_010_000), 42);
  });

  it('stays within exact integers', () => {
    assert.equal(continueSequence(MAX_EVENT_ID, anchor, 1_010_000), MAX_EVENT_ID);
  });
});

describe(parseSequenceAnchor.name, () => {
  it('reads a stored anchor and rejects anything malformed', () => {
    assert.deepEqual(parseSequenceAnchor('{"seq":3,"timestamp":5,"periodMs":250}'), {
      seq: 3,
      timestamp: 5,
      periodMs: 250,
    });
    for (const bad of [
      null,
      '',
      'nope',
      '{"seq":-1,"timestamp":5,"periodMs":250}',
      '{"seq":3,"timestamp":5,"periodMs":0}',
      '{}',
    ]) {
      assert.equal(parseSequenceAnchor(bad), undefined, String(bad));
    }
  });
});
