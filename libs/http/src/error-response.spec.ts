import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  NotFoundException,
  UnauthorizedException,
  UnprocessableEntityException,
} from '@nestjs/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from 'fastify';
import { AppError, CODE_FOR_STATUS, ERROR_CATALOG } from '@app/errors';
import { type ErrorResponse, toErrorResponse } from './error-response.js';

/** Whatever is thrown, the code sent is one the catalog maps to the status sent. */
function answered(exception: unknown): ErrorResponse {
  const response = toErrorResponse(exception);
  assert.equal(ERROR_CATALOG[response.body.code].status, response.body.statusCode, JSON.stringify(response.body));
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
    const sut = answered(AppError.of('UNKNOWN_USERS', { unknownUserIds: ['x'] }));
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
      AppError.of(
        'UNAUTHENTICATED',
        { token: 'invalid', transport: 'header', problem: 'the token has expired', reason: 'expired' },
        { challenge: 'Bearer error="invalid_token"' },
      ),
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

  it("answers Nest's HTTP exceptions with their own status and message, under the generic code of the status", () => {
    for (const [exception, status, code, message] of [
      [new BadRequestException('limit must be a number'), 400, 'VALIDATION_FAILED', 'limit must be a number'],
      [new UnauthorizedException(), 401, 'UNAUTHENTICATED', 'Unauthorized'],
      [new ForbiddenException('Forbidden resource'), 403, 'FORBIDDEN', 'Forbidden resource'],
      [new NotFoundException('Cannot GET /nowhere'), 404, 'ROUTE_NOT_FOUND', 'Cannot GET /nowhere'],
      [
        new HttpException('Method Not Allowed', HttpStatus.METHOD_NOT_ALLOWED),
        405,
        'METHOD_NOT_ALLOWED',
        'Method Not Allowed',
      ],
      [new HttpException('Conflict', HttpStatus.CONFLICT), 409, 'CONFLICT', 'Conflict'],
      [new UnprocessableEntityException('no such thing'), 422, 'UNPROCESSABLE_ENTITY', 'no such thing'],
      [new HttpException('busy', HttpStatus.SERVICE_UNAVAILABLE), 503, 'SERVICE_UNAVAILABLE', 'busy'],
    ] as const) {
      const sut = answered(exception);
      assert.deepEqual([sut.body.statusCode, sut.body.code], [status, code], exception.message);
      assert.equal(sut.body.message, message);
      assert.equal(sut.unexpected, false);
    }
  });

  it('never answers a framework error with a domain code: a Nest 409 is not PROFILE_IN_USE, a 422 not UNKNOWN_USERS', () => {
    for (const [status, code] of Object.entries(CODE_FOR_STATUS)) {
      const sut = answered(new HttpException('said by the framework', Number(status)));
      assert.equal(sut.body.code, code, status);
    }
    assert.equal(answered(new HttpException('x', HttpStatus.CONFLICT)).body.code, 'CONFLICT');
    assert.equal(answered(new HttpException('x', HttpStatus.UNPROCESSABLE_ENTITY)).body.code, 'UNPROCESSABLE_ENTITY');
    assert.equal(answered(new HttpException('x', HttpStatus.FORBIDDEN)).body.code, 'FORBIDDEN');
  });

  it("gives a framework 503 the catalog's Retry-After", () => {
    const sut = answered(new HttpException('busy', HttpStatus.SERVICE_UNAVAILABLE));
    assert.equal(sut.retryAfterSeconds, 1);
  });

  it("uses the catalog's words when a framework error says nothing", () => {
    const sut = answered(new HttpException('', HttpStatus.CONFLICT));
    assert.deepEqual(sut.body, { statusCode: 409, code: 'CONFLICT', message: 'Conflict' });
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
    for (const [exception, status, code] of [
      [new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), 400, 'VALIDATION_FAILED'],
      [new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), 400, 'VALIDATION_FAILED'],
      [new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 413, 'PAYLOAD_TOO_LARGE'],
      [new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ] as const) {
      const sut = answered(exception);
      assert.deepEqual([sut.body.statusCode, sut.body.code], [status, code], exception.code);
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
