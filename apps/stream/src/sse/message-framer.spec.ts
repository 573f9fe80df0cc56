import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameEvent, MessageFramer } from './message-framer.js';
import { PayloadPool } from './payload-pool.js';

describe(MessageFramer.name, () => {
  it('makes the data line of a generated event: the JSON {host, seq, timestamp, payload}', () => {
    const pool = new PayloadPool(1000, 2);
    const sut = new MessageFramer('pod-"a"', pool);
    const data = JSON.parse(Buffer.concat(sut.data(42, 1_700_000_000_000)).toString());
    assert.deepEqual(Object.keys(data), ['host', 'seq', 'timestamp', 'payload']);
    assert.equal(data.host, 'pod-"a"');
    assert.equal(data.seq, 42);
    assert.equal(data.timestamp, 1_700_000_000_000);
    assert.equal(data.payload.length, 1000);
  });

  it('reuses the pooled payload buffers instead of copying them', () => {
    const pool = new PayloadPool(64, 1);
    const sut = new MessageFramer('h', pool);
    assert.equal(sut.data(1, 0)[1], sut.data(2, 0)[1]);
  });
});

describe(frameEvent.name, () => {
  it('frames id, event and one data line, counting its bytes, and keeps the data chunks as they are', () => {
    const data = [Buffer.from('{"a":'), Buffer.from('"é"}')];
    const sut = frameEvent({ id: '3.0-0.0123456789abcdef', event: 'price', data, seq: 3, dueAt: 12.5, lossless: true });
    const text = Buffer.concat(sut.chunks).toString();
    assert.equal(text, 'id: 3.0-0.0123456789abcdef\nevent: price\ndata: {"a":"é"}\n\n');
    assert.equal(sut.bytes, Buffer.byteLength(text));
    assert.equal(sut.chunks[1], data[0]);
    assert.deepEqual([sut.seq, sut.dueAt, sut.lossless], [3, 12.5, true]);
  });

  it('leaves the event line out for the default event', () => {
    const sut = frameEvent({ id: '1.0-0.0123456789abcdef', data: [Buffer.from('1')], seq: 1, dueAt: 0 });
    assert.equal(Buffer.concat(sut.chunks).toString(), 'id: 1.0-0.0123456789abcdef\ndata: 1\n\n');
    assert.equal(sut.lossless, false);
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
