import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { type ArgumentsHost, Logger } from '@nestjs/common';
import { AppError } from '@app/errors';
import { AppExceptionFilter } from './app-exception.filter.js';

/** A Fastify reply that records what is sent; `started` as if a stream had begun. */
function fakeReply(started = false) {
  const sent: { status?: number; type?: string; body?: unknown; headers: Record<string, string>; destroyed: boolean } =
    {
      headers: {},
      destroyed: false,
    };
  const reply = {
    sent: false,
    raw: { headersSent: started, destroy: () => (sent.destroyed = true) },
    header(name: string, value: string) {
      sent.headers[name] = value;
      return reply;
    },
    status(code: number) {
      sent.status = code;
      return reply;
    },
    type(type: string) {
      sent.type = type;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
  return { host, sent };
}

describe(AppExceptionFilter.name, () => {
  const sut = new AppExceptionFilter();
  let errors: ReturnType<typeof mock.method>;
  let warnings: ReturnType<typeof mock.method>;

  beforeEach(() => {
    errors = mock.method(Logger.prototype, 'error', () => {});
    warnings = mock.method(Logger.prototype, 'warn', () => {});
  });

  afterEach(() => mock.restoreAll());

  const logged = (calls: ReturnType<typeof mock.method>) => calls.mock.calls.map((call) => String(call.arguments[0]));

  it('sends an AppError as JSON with its status, and logs nothing for a 4xx', () => {
    const { host, sent } = fakeReply();
    sut.catch(AppError.of('USER_NOT_FOUND', { userId: 'u1' }), host);
    assert.deepEqual(sent, {
      headers: {},
      destroyed: false,
      status: 404,
      type: 'application/json; charset=utf-8',
      body: { statusCode: 404, code: 'USER_NOT_FOUND', message: 'User u1 does not exist' },
    });
    assert.deepEqual([logged(errors), logged(warnings)], [[], []]);
  });

  it('adds Retry-After to a 503 and logs it as a warning with its cause', () => {
    const { host, sent } = fakeReply();
    sut.catch(AppError.dependencyUnavailable('redis', new Error('connect ECONNREFUSED 127.0.0.1:6379')), host);
    assert.equal(sent.status, 503);
    assert.equal(sent.headers['Retry-After'], '1');
    assert.deepEqual(logged(warnings), [
      'DEPENDENCY_UNAVAILABLE redis is unavailable, try again shortly: connect ECONNREFUSED 127.0.0.1:6379',
    ]);
  });

  it('challenges every 401: with the error\'s own challenge, else "Bearer"', () => {
    const own = fakeReply();
    sut.catch(
      AppError.of('UNAUTHENTICATED', { token: 'user-missing' }, { challenge: 'Bearer error="invalid_token"' }),
      own.host,
    );
    assert.equal(own.sent.headers['WWW-Authenticate'], 'Bearer error="invalid_token"');
    const framework = fakeReply();
    sut.catch(AppError.forStatus(401, 'Unauthorized'), framework.host);
    assert.equal(framework.sent.headers['WWW-Authenticate'], 'Bearer');
  });

  it('answers anything else with a bare 500 and logs its stack, with access tokens redacted', () => {
    const { host, sent } = fakeReply();
    sut.catch(new TypeError('cannot read /stream/a/b?access_token=eyJ.secret.sig'), host);
    assert.deepEqual(
      [sent.status, sent.body],
      [500, { statusCode: 500, code: 'INTERNAL', message: 'Internal server error' }],
    );
    const [stack] = logged(errors);
    assert.match(stack!, /^TypeError: cannot read/);
    assert.doesNotMatch(stack!, /eyJ\.secret\.sig/);
  });

  it('ends a stream that already started instead of sending a second status line', () => {
    const { host, sent } = fakeReply(true);
    sut.catch(AppError.of('DRAINING'), host);
    assert.deepEqual([sent.destroyed, sent.status, sent.body], [true, undefined, undefined]);
  });
});
