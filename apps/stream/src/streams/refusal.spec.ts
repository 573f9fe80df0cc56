import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@app/errors';
import { acceptsJsonRefusals, streamRefusal } from './refusal.js';

describe(acceptsJsonRefusals.name, () => {
  it('takes JSON refusals from a client that accepts JSON, any type, or says nothing', () => {
    for (const accept of [
      undefined,
      '*/*',
      'application/json',
      'text/event-stream, application/json',
      'application/*;q=0.5',
    ]) {
      assert.equal(acceptsJsonRefusals(accept), true, String(accept));
    }
  });

  it('sees a standard EventSource in a client that accepts only text/event-stream (or refuses JSON with q=0)', () => {
    for (const accept of [
      'text/event-stream',
      'text/event-stream;charset=utf-8',
      'text/event-stream, application/json;q=0',
    ]) {
      assert.equal(acceptsJsonRefusals(accept), false, accept);
    }
  });
});

describe(streamRefusal.name, () => {
  const half = () => 0.5;

  it('tells the client to retry after the refusal’s Retry-After, spread by up to half again', () => {
    const busy = streamRefusal(AppError.of('PROFILE_IN_USE'), half)!;
    assert.equal(busy.retryMs, 2500);
    const text = busy.body.toString();
    assert.match(text, /^retry: 2500\n\nevent: refused\ndata: \{.*\}\n\n$/);
    const data = JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
    assert.deepEqual([data.statusCode, data.code, data.retryMs], [409, 'PROFILE_IN_USE', 2500]);
    assert.equal(streamRefusal(AppError.of('TOO_MANY_STREAMS', { maxPerUser: 2 }), () => 0)!.retryMs, 5000);
    assert.equal(streamRefusal(AppError.of('DRAINING'), () => 0.999)!.retryMs, 1500);
    assert.equal(streamRefusal(AppError.dependencyUnavailable('redis'), () => 0)!.retryMs, 1000);
  });

  it('leaves refusals that retrying cannot fix (and anything not ours) to their status', () => {
    for (const error of [
      AppError.of('INVALID_ID', { value: 'x' }),
      AppError.of('NOT_BOUND', { userId: 'u', profileId: 'p' }),
      AppError.of('UNAUTHENTICATED', { token: 'user-missing' }),
      AppError.of('USER_NOT_FOUND', { userId: 'u' }),
      new Error('bug'),
    ]) {
      assert.equal(streamRefusal(error), undefined, String(error));
    }
  });
});
