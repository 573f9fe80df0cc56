import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionContext } from '@nestjs/common';
import type { AppConfig } from '@app/config';
import { AppError, type ErrorCode } from '@app/errors';
import { AdminGuard } from './admin.guard.js';

function guard(adminToken: string | undefined): AdminGuard {
  return new AdminGuard({ adminToken } as AppConfig);
}

/** The execution context of a request carrying `authorization` (or none). */
function requestWith(authorization?: string): ExecutionContext {
  const request = { headers: authorization === undefined ? {} : { authorization } };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

function refusal(sut: AdminGuard, context: ExecutionContext, status: number, code: ErrorCode): AppError {
  const error = (() => {
    try {
      sut.canActivate(context);
    } catch (error) {
      return error;
    }
    return assert.fail(`let through; expected ${status} ${code}`);
  })();
  assert.ok(error instanceof AppError, String(error));
  assert.deepEqual([error.status, error.code], [status, code], error.message);
  return error;
}

describe(AdminGuard.name, () => {
  it('lets through exactly the configured admin token', () => {
    assert.equal(guard('s3cret-admin').canActivate(requestWith('Bearer s3cret-admin')), true);
  });

  it('refuses every call with 403 ADMIN_DISABLED when no admin token is configured, whatever is sent', () => {
    for (const authorization of [undefined, 'Bearer anything', 'Bearer ']) {
      const error = refusal(guard(undefined), requestWith(authorization), 403, 'ADMIN_DISABLED');
      assert.match(error.message, /no ADMIN_TOKEN is configured/);
    }
  });

  it('answers 401 UNAUTHENTICATED saying how to send the token when none is sent as a bearer token', () => {
    for (const authorization of [undefined, '', 'Basic czNjcmV0LWFkbWlu', 'Bearer']) {
      const error = refusal(guard('s3cret-admin'), requestWith(authorization), 401, 'UNAUTHENTICATED');
      assert.equal(error.message, 'Admin token required: send Authorization: Bearer <token>');
    }
  });

  it('answers 403 FORBIDDEN for a wrong token, also one that only starts like the right one', () => {
    for (const token of ['wrong', 's3cret', 's3cret-admin2', 'S3CRET-ADMIN']) {
      const error = refusal(guard('s3cret-admin'), requestWith(`Bearer ${token}`), 403, 'FORBIDDEN');
      assert.equal(error.message, 'Admin token is not valid');
    }
  });
});
