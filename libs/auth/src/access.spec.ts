import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { loadConfig } from '@app/config';
import { AppError, type ErrorCode } from '@app/errors';
import { Access, AuthGuard } from './access.js';
import { Authenticator } from './authenticator.js';
import { signUserToken } from './user-token.js';

const SECRET = 'a-secret-of-at-least-thirty-two-characters!';
const ADMIN = 'the-admin-token-of-this-spec';
const ANN = 'a11ce000-0000-4000-8000-000000000001';
const BOB = 'b0b00000-0000-4000-8000-000000000002';

class Routes {
  @Access({ kind: 'user', param: 'userId' })
  own(): void {}

  @Access({ kind: 'directory' })
  everything(): void {}

  @Access({ kind: 'signed-in' })
  me(): void {}

  unguarded(): void {}
}

function guard(env: Record<string, string> = {}): AuthGuard {
  const config = loadConfig('main', { AUTH_JWT_SECRET: SECRET, ADMIN_TOKEN: ADMIN, ...env });
  return new AuthGuard(new Reflector(), new Authenticator(config.auth, config.adminToken));
}

async function tokenOf(userId: string): Promise<string> {
  return (await signUserToken(SECRET, userId, { ttlSeconds: 60 })).token;
}

/** A request for `route` with `params`, bearing `token` (none when undefined). */
function call(route: keyof Routes, token?: string, params: Record<string, string> = { userId: ANN }): ExecutionContext {
  const request = { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, params, url: '/' };
  return {
    getHandler: () => Routes.prototype[route],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

async function refused(sut: AuthGuard, context: ExecutionContext, status: number, code: ErrorCode): Promise<void> {
  await assert.rejects(sut.canActivate(context), (error) => {
    assert.ok(error instanceof AppError, String(error));
    assert.deepEqual([error.status, error.code], [status, code], error.message);
    return true;
  });
}

describe(AuthGuard.name, () => {
  const sut = guard();

  it("lets a user's own token, and the admin token, reach that user's routes", async () => {
    assert.equal(await sut.canActivate(call('own', await tokenOf(ANN))), true);
    assert.equal(await sut.canActivate(call('own', await tokenOf(ANN), { userId: ANN.toUpperCase() })), true);
    assert.equal(await sut.canActivate(call('own', ADMIN)), true);
  });

  it('refuses a malformed user id with 400 before reading any token', async () => {
    await refused(sut, call('own', undefined, { userId: 'not-a-uuid' }), 400, 'INVALID_ID');
    await refused(sut, call('own', 'garbage', { userId: '123' }), 400, 'INVALID_ID');
  });

  it("answers 401 without a token or with a bad one, 403 for another user's token", async () => {
    await refused(sut, call('own'), 401, 'UNAUTHENTICATED');
    await refused(sut, call('own', 'not.a.jwt'), 401, 'UNAUTHENTICATED');
    await refused(sut, call('own', await tokenOf(BOB)), 403, 'FORBIDDEN');
  });

  it('keeps the directory for the admin token: 403 for a user, 401 for nobody', async () => {
    assert.equal(await sut.canActivate(call('everything', ADMIN)), true);
    await refused(sut, call('everything', await tokenOf(ANN)), 403, 'FORBIDDEN');
    await refused(sut, call('everything'), 401, 'UNAUTHENTICATED');
  });

  it('opens the directory to everyone signed in where development sign-in is on', async () => {
    const dev = guard({ AUTH_DEV_LOGIN: 'true' });
    assert.equal(await dev.canActivate(call('everything', await tokenOf(ANN))), true);
  });

  it('lets any signed-in user reach a signed-in route, but not the admin token, which is no user', async () => {
    assert.equal(await sut.canActivate(call('me', await tokenOf(BOB))), true);
    await refused(sut, call('me', ADMIN), 403, 'FORBIDDEN');
    await refused(sut, call('me'), 401, 'UNAUTHENTICATED');
  });

  it('fails loudly, as a bug, on a guarded route that declares no access rule', async () => {
    await assert.rejects(sut.canActivate(call('unguarded', ADMIN)), /Routes\.unguarded uses AuthGuard without @Access/);
  });
});
