import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from './app-error.js';
import { CODE_FOR_STATUS, ERROR_CATALOG, type ErrorCode, isErrorCode, statusOf } from './error-catalog.js';

const CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe(AppError.name, () => {
  it('takes status, message and details from the catalog entry, filled in from the parameters', () => {
    const sut = AppError.of('UNKNOWN_USERS', { unknownUserIds: ['a', 'b'] });
    assert.equal(sut.code, 'UNKNOWN_USERS');
    assert.equal(sut.status, 422);
    assert.equal(sut.message, 'Unknown user ids: a, b');
    assert.deepEqual(sut.toBody(), {
      statusCode: 422,
      code: 'UNKNOWN_USERS',
      message: 'Unknown user ids: a, b',
      details: { unknownUserIds: ['a', 'b'] },
    });
  });

  it('needs no parameters for a fixed text, and leaves details out of the body when the entry has none', () => {
    const sut = AppError.of('PROFILE_IN_USE');
    assert.deepEqual(sut.toBody(), {
      statusCode: 409,
      code: 'PROFILE_IN_USE',
      message: 'This profile is already streaming for this user elsewhere',
    });
  });

  it('says the same words for a code wherever it is thrown', () => {
    assert.equal(AppError.of('DRAINING').message, AppError.of('DRAINING').message);
    assert.equal(
      AppError.of('USER_NOT_FOUND', { userId: 'u1' }).message,
      AppError.of('USER_NOT_FOUND', { userId: 'u1' }).message,
    );
    assert.equal(
      AppError.of('NOT_BOUND', { userId: 'u', profileId: 'p' }).message,
      AppError.of('BINDING_NOT_FOUND', { userId: 'u', profileId: 'p' }).message,
    );
  });

  it('carries the Retry-After of its entry: every 503 and 429 has one, no other status does', () => {
    for (const code of CODES) {
      const entry: { status: number; retryAfterSeconds?: unknown } = ERROR_CATALOG[code];
      assert.equal(entry.retryAfterSeconds !== undefined, entry.status === 503 || entry.status === 429, code);
    }
    assert.equal(AppError.of('TOO_MANY_STREAMS', { maxPerUser: 10 }).retryAfterSeconds, 5);
    assert.equal(AppError.of('TESTDATA_BUSY', { jobId: 'j', retryAfterSeconds: 7 }).retryAfterSeconds, 7);
    assert.equal(AppError.of('DRAINING').retryAfterSeconds, 1);
    assert.equal(AppError.of('POD_FULL', { maxConnections: 3 }).retryAfterSeconds, 1);
    assert.equal(AppError.of('USER_NOT_FOUND', { userId: 'u' }).retryAfterSeconds, undefined);
  });

  it('keeps the cause and the challenge the throw site gives', () => {
    const cause = new Error('ECONNREFUSED');
    const sut = AppError.dependencyUnavailable('redis', cause);
    assert.equal(sut.cause, cause);
    assert.deepEqual(sut.toBody(), {
      statusCode: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: 'redis is unavailable, try again shortly',
      details: { dependency: 'redis' },
    });
    const refused = AppError.of('UNAUTHENTICATED', { token: 'user-missing' }, { challenge: 'Bearer' });
    assert.equal(refused.challenge, 'Bearer');
    assert.equal(refused.details, undefined);
  });

  it('names why a 401 or 403 was given in the words of the catalog', () => {
    const invalid = AppError.of('UNAUTHENTICATED', {
      token: 'invalid',
      transport: 'cookie',
      problem: 'the token has expired',
      reason: 'expired',
    });
    assert.equal(invalid.message, 'Invalid token (cookie): the token has expired');
    assert.deepEqual(invalid.details, { reason: 'expired' });
    assert.match(AppError.of('UNAUTHENTICATED', { token: 'admin-missing' }).message, /^Admin token required/);
    assert.match(AppError.of('FORBIDDEN', { because: 'directory' }).message, /needs the admin token/);
  });

  it('passes on an answer of another of our services with its code, message and details', () => {
    const sut = AppError.relay('base', 404, { code: 'USER_NOT_FOUND', message: 'User x does not exist', details: 1 });
    assert.deepEqual(sut?.toBody(), {
      statusCode: 404,
      code: 'USER_NOT_FOUND',
      message: 'User x does not exist',
      details: 1,
    });
    assert.equal(AppError.relay('base', 404, { code: 'USER_NOT_FOUND' })?.message, 'base answered 404 USER_NOT_FOUND');
  });

  it('passes on no answer whose code does not carry the status it came with', () => {
    assert.equal(AppError.relay('base', 404, { code: 'PROFILE_IN_USE', message: 'x' }), undefined);
    assert.equal(AppError.relay('base', 500, { code: 'USER_NOT_FOUND', message: 'x' }), undefined);
  });

  it("answers a framework's refusal with the generic code of its status, in the framework's words", () => {
    assert.deepEqual(AppError.forStatus(409, 'Conflict: x')?.toBody(), {
      statusCode: 409,
      code: 'CONFLICT',
      message: 'Conflict: x',
    });
    assert.equal(AppError.forStatus(404, undefined)?.message, 'No such route');
    assert.equal(AppError.forStatus(400, '')?.message, 'Bad Request', 'a code whose message is a template');
    assert.equal(AppError.forStatus(418, 'teapot'), undefined);
    assert.equal(AppError.forStatus(502, 'bad gateway'), undefined);
  });
});

describe('ERROR_CATALOG', () => {
  it('gives every code an HTTP error status and a message', () => {
    for (const code of CODES) {
      const { status, message } = ERROR_CATALOG[code];
      assert.ok(Number.isInteger(status) && status >= 400 && status < 600, code);
      assert.ok(typeof message === 'function' || message.length > 0, code);
    }
  });

  it('maps each framework status to a generic code that has that status and is no domain code', () => {
    const domain: ErrorCode[] = [
      'PROFILE_IN_USE',
      'UNKNOWN_USERS',
      'USER_NOT_FOUND',
      'NOT_BOUND',
      'DRAINING',
      'POD_FULL',
    ];
    for (const [status, code] of Object.entries(CODE_FOR_STATUS)) {
      assert.equal(statusOf(code!), Number(status), code);
      assert.ok(!domain.includes(code!), `${status} → ${code}`);
    }
  });

  it('knows its own codes and nothing else', () => {
    assert.ok(isErrorCode('USER_NOT_FOUND'));
    assert.ok(!isErrorCode('NOPE'));
    assert.ok(!isErrorCode('toString'));
    assert.ok(!isErrorCode(404));
  });
});
