import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@app/errors';
import { ClientRateLimiter, clientAddress } from './rate-limiter.js';

describe(ClientRateLimiter.name, () => {
  const clock = () => {
    let now = 1000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  it('lets a client make its limit of calls in a minute, then refuses 429 RATE_LIMITED with Retry-After', () => {
    const time = clock();
    const sut = new ClientRateLimiter('sign-ins', 3, time.now);
    for (let i = 0; i < 3; i++) sut.take('10.0.0.1');
    time.advance(15_000);
    const refused = (() => {
      try {
        sut.take('10.0.0.1');
      } catch (error) {
        return error;
      }
    })();
    assert.ok(refused instanceof AppError);
    assert.deepEqual([refused.status, refused.code, refused.retryAfterSeconds], [429, 'RATE_LIMITED', 45]);
    assert.match(refused.message, /sign-ins.*3 a minute/);
  });

  it('counts each client apart, and starts afresh after the minute', () => {
    const time = clock();
    const sut = new ClientRateLimiter('stream opens', 1, time.now);
    sut.take('a');
    sut.take('b');
    assert.throws(() => sut.take('a'), /RATE_LIMITED|stream opens/);
    time.advance(60_000);
    sut.take('a');
  });

  it('never refuses with a limit of 0', () => {
    const sut = new ClientRateLimiter('anything', 0);
    for (let i = 0; i < 10_000; i++) sut.take('a');
  });
});

describe(clientAddress.name, () => {
  it("takes the gateway's X-Real-IP, else the socket's peer", () => {
    assert.equal(
      clientAddress({ headers: { 'x-real-ip': '203.0.113.7' }, socket: { remoteAddress: '127.0.0.1' } }),
      '203.0.113.7',
    );
    assert.equal(clientAddress({ headers: {}, socket: { remoteAddress: '127.0.0.1' } }), '127.0.0.1');
    assert.equal(clientAddress({ headers: {} }), 'unknown');
  });
});
