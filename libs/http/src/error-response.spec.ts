import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from 'fastify';
import { AppError, ERROR_CATALOG } from '@app/errors';
import { type ErrorResponse, toErrorResponse } from './error-response.js';

/** Whatever is thrown, the code sent is one the catalog maps to the status sent. */
function answered(exception: unknown): ErrorResponse {
  const response = toErrorResponse(exception);
  assert.equal(ERROR_CATALOG[response.body.code], response.body.statusCode, JSON.stringify(response.body));
  return response;
}

function assertInternal(response: ErrorResponse): void {
  assert.deepEqual(response, {
    body: { statusCode: 500, code: 'INTERNAL', message: 'Internal server error' },
    unexpected: true,
  });
}

describe(toErrorResponse.name, () => {
  it('answers an AppError with its own code, status, message and details, and is not logged as a bug', () => {
    const sut = answered(new AppError('UNKNOWN_USERS', 'Unknown user ids: x', { details: { unknownUserIds: ['x'] } }));
    assert.deepEqual(sut.body, {
      statusCode: 422,
      code: 'UNKNOWN_USERS',
      message: 'Unknown user ids: x',
      details: { unknownUserIds: ['x'] },
    });
    assert.equal(sut.retryAfterSeconds, undefined);
    assert.equal(sut.unexpected, false);
  });

  it('keeps the WWW-Authenticate challenge of an AppError', () => {
    const sut = answered(
      new AppError('UNAUTHENTICATED', 'The token has expired', { challenge: 'Bearer error="invalid_token"' }),
    );
    assert.equal(sut.body.statusCode, 401);
    assert.equal(sut.challenge, 'Bearer error="invalid_token"');
  });

  it('keeps the Retry-After of an AppError', () => {
    const sut = answered(AppError.dependencyUnavailable('redis'));
    assert.equal(sut.body.statusCode, 503);
    assert.equal(sut.body.code, 'DEPENDENCY_UNAVAILABLE');
    assert.equal(sut.retryAfterSeconds, 1);
    assert.equal(sut.unexpected, false);
  });

  it("answers Nest's HTTP exceptions with their own status and message", () => {
    for (const [exception, status, message] of [
      [new BadRequestException('limit must be a number'), 400, 'limit must be a number'],
      [new UnauthorizedException(), 401, 'Unauthorized'],
      [new ForbiddenException('Forbidden resource'), 403, 'Forbidden resource'],
      [new NotFoundException('Cannot GET /nowhere'), 404, 'Cannot GET /nowhere'],
      [new HttpException('Conflict', HttpStatus.CONFLICT), 409, 'Conflict'],
      [new HttpException('busy', HttpStatus.SERVICE_UNAVAILABLE), 503, 'busy'],
    ] as const) {
      const sut = answered(exception);
      assert.equal(sut.body.statusCode, status, exception.message);
      assert.equal(sut.body.message, message);
      assert.equal(sut.unexpected, false);
    }
  });

  it("never echoes an access token that a framework message quotes from the request's URL", () => {
    const sut = answered(new NotFoundException('Cannot GET /nowhere?access_token=eyJhbGciOi.secret.sig&x=1'));
    assert.equal(sut.body.statusCode, 404);
    assert.doesNotMatch(sut.body.message, /eyJhbGciOi|secret/);
    assert.match(sut.body.message, /^Cannot GET \/nowhere\?/);
  });

  it('joins the messages of an exception that carries a list of them', () => {
    const sut = answered(new BadRequestException({ message: ['name is required', 'limit is too large'] }));
    assert.equal(sut.body.statusCode, 400);
    assert.equal(sut.body.message, 'name is required; limit is too large');
  });

  it("answers Fastify's request errors (bad JSON, body too large, wrong media type) with their status", () => {
    for (const [exception, status] of [
      [new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), 400],
      [new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), 400],
      [new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 413],
      [new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), 415],
    ] as const) {
      const sut = answered(exception);
      assert.equal(sut.body.statusCode, status, exception.code);
      assert.equal(sut.body.message, exception.message);
      assert.equal(sut.unexpected, false);
    }
  });

  it('turns an HTTP exception of a status the catalog has no code for into a logged 500', () => {
    assertInternal(answered(new HttpException("I'm a teapot", HttpStatus.I_AM_A_TEAPOT)));
    assertInternal(answered(new HttpException('Bad gateway', HttpStatus.BAD_GATEWAY)));
  });

  it('turns anything else into a logged 500 that does not reveal what went wrong', () => {
    assertInternal(answered(new Error('Cassandra at 10.0.0.7:9042 timed out')));
    assertInternal(answered(Object.assign(new Error('upstream failed'), { statusCode: 502 })));
    assertInternal(answered('a thrown string'));
    assertInternal(answered(undefined));
    assertInternal(answered({ statusCode: 400, message: 'not an Error' }));
  });
});
