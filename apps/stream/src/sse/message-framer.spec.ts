import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageFramer } from './message-framer.js';
import { PayloadPool } from './payload-pool.js';

describe(MessageFramer.name, () => {
  it('frames a message event whose data is the JSON {host, seq, timestamp, payload}', () => {
    const pool = new PayloadPool(1000, 2);
    const sut = new MessageFramer('pod-"a"', pool);
    const frame = sut.frame(42, 1_700_000_000_000, 1234.5);
    const text = Buffer.concat(frame.chunks).toString();
    assert.equal(frame.seq, 42);
    assert.equal(frame.dueAt, 1234.5);
    assert.equal(frame.bytes, Buffer.byteLength(text));
    const match = /^id: 42\ndata: (.*)\n\n$/s.exec(text);
    assert.ok(match, text.slice(0, 80));
    const data = JSON.parse(match[1]!);
    assert.deepEqual(Object.keys(data), ['host', 'seq', 'timestamp', 'payload']);
    assert.equal(data.host, 'pod-"a"');
    assert.equal(data.seq, 42);
    assert.equal(data.timestamp, 1_700_000_000_000);
    assert.equal(data.payload.length, 1000);
  });

  it('reuses the pooled payload buffers instead of copying them', () => {
    const pool = new PayloadPool(64, 1);
    const sut = new MessageFramer('h', pool);
    assert.equal(sut.frame(1, 0, 0).chunks[1], sut.frame(2, 0, 0).chunks[1]);
  });
});

describe(PayloadPool.name, () => {
  it('makes payloads of exactly the configured size from URL-safe base64 characters', () => {
    const sut = new PayloadPool(65_536, 3);
    for (let i = 0; i < 3; i++) {
      const payload = sut.next();
      assert.equal(payload.length, 65_536);
      assert.match(payload.toString('latin1'), /^[A-Za-z0-9_-]+$/);
    }
  });

  it('rotates through different payloads', () => {
    const sut = new PayloadPool(32, 2);
    assert.notDeepEqual(sut.next(), sut.next());
  });
});
