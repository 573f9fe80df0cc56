import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackpressureWriter, type SseSink } from './backpressure-writer.js';

/** A socket that never drains: everything written stays pending. */
class StalledSocket implements SseSink {
  writableLength = 0;
  destroyed = false;
  writes = 0;
  corked = 0;
  write(chunk: Buffer): boolean {
    this.writableLength += chunk.length;
    this.writes++;
    return this.writableLength < 16_384;
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {}
}

const frame = (bytes: number) => [Buffer.alloc(10), Buffer.alloc(bytes - 10)];

describe(BackpressureWriter.name, () => {
  it('keeps writing while write() returns false but pending bytes are under the limit', () => {
    const socket = new StalledSocket();
    const sut = new BackpressureWriter(socket, 1024 * 1024);
    for (let i = 0; i < 10; i++) assert.equal(sut.offer(frame(65_536), i), 'sent');
    assert.equal(sut.sentEvents, 10);
    assert.equal(sut.droppedEvents, 0);
  });

  it('drops frames while the pending bytes exceed the limit, so memory stays bounded', () => {
    const socket = new StalledSocket();
    const sut = new BackpressureWriter(socket, 1024 * 1024);
    const results = Array.from({ length: 100 }, (_, i) => sut.offer(frame(65_536), i));
    assert.equal(results.filter((r) => r === 'sent').length, 17);
    assert.equal(sut.droppedEvents, 83);
    assert.ok(socket.writableLength <= 1024 * 1024 + 65_536);
  });

  it('writes the chunks of one frame corked, as one syscall', () => {
    const socket = new StalledSocket();
    new BackpressureWriter(socket, 1024).offer(frame(100), 0);
    assert.equal(socket.corked, 1);
    assert.equal(socket.writes, 2);
  });

  it('resumes sending once the socket drains', () => {
    const socket = new StalledSocket();
    const sut = new BackpressureWriter(socket, 1000);
    sut.offer(frame(2000), 0);
    assert.equal(sut.offer(frame(100), 1), 'dropped');
    socket.writableLength = 0;
    assert.equal(sut.offer(frame(100), 2), 'sent');
  });

  it('reports how long it has been dropping, and resets when a frame gets through', () => {
    const socket = new StalledSocket();
    const sut = new BackpressureWriter(socket, 1000);
    sut.offer(frame(2000), 0);
    assert.equal(sut.stalledFor(50), 0);
    sut.offer(frame(100), 100);
    sut.offer(frame(100), 400);
    assert.equal(sut.stalledFor(1100), 1000);
    socket.writableLength = 0;
    sut.offer(frame(100), 1200);
    assert.equal(sut.stalledFor(5000), 0);
  });

  it('always writes control frames, and nothing once the socket is destroyed', () => {
    const socket = new StalledSocket();
    const sut = new BackpressureWriter(socket, 10);
    socket.writableLength = 1_000_000;
    sut.writeControl(Buffer.from('event: lock-lost\n\n'));
    assert.equal(socket.writes, 1);
    socket.destroyed = true;
    sut.writeControl(Buffer.from('x'));
    assert.equal(sut.offer(frame(100), 0), 'closed');
    assert.equal(socket.writes, 1);
  });
});
