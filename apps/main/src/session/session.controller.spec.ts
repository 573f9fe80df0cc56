import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator, type Principal } from '@app/auth';
import type { BaseClient, UserDto } from '@app/base-client';
import { type MainConfig, loadConfig } from '@app/config';
import { AppError } from '@app/errors';
import { DevLoginController } from './dev-login.controller.js';
import { isHttps, SessionController } from './session.controller.js';

const ANN = 'a11ce000-0000-4000-8000-000000000001';
const SECRET = 'a-secret-of-at-least-thirty-two-characters!';
const CREATED_AT = '2026-01-01T00:00:00.000Z';

function config(env: Record<string, string> = {}): MainConfig {
  return loadConfig('main', { AUTH_JWT_SECRET: SECRET, AUTH_DEV_LOGIN: 'true', ...env });
}

/** base knows Ann and her profiles; anyone else is 404 `USER_NOT_FOUND`. */
function fakeBase(profiles: { id: string; name: string }[] = []): BaseClient {
  const known = (id: string) => {
    if (id !== ANN) throw AppError.of('USER_NOT_FOUND', { userId: id });
  };
  return {
    async getUser(id: string): Promise<UserDto> {
      known(id);
      return { id, name: 'Ann', createdAt: CREATED_AT };
    },
    async *allProfilesOf(id: string) {
      known(id);
      yield* profiles;
    },
  } as unknown as BaseClient;
}

/** A Fastify reply over a request with `protocol` and headers; records the headers set. */
function reply(request: { protocol?: string; headers?: Record<string, string | string[]> } = {}) {
  const set: Record<string, string> = {};
  const sut = {
    request: {
      protocol: 'http',
      headers: {},
      ...request,
      raw: { headers: request.headers ?? {}, url: '/main/logout' },
    },
    header(name: string, value: string) {
      set[name] = value;
      return sut;
    },
  };
  return { reply: sut as unknown as FastifyReply, set };
}

describe(SessionController.name, () => {
  it("answers the signed-in user's name, token expiry and own profiles by name", async () => {
    const sut = new SessionController(
      fakeBase([
        { id: 'p2', name: 'Zither' },
        { id: 'p1', name: 'alpha' },
        { id: 'p3', name: 'Banjo' },
      ]),
      new Authenticator(config().auth, undefined),
    );
    const expiresAt = new Date('2026-02-01T08:00:00.000Z');
    const principal: Principal = { kind: 'user', userId: ANN, expiresAt, transport: 'cookie' };
    assert.deepEqual(await sut.me(principal), {
      userId: ANN,
      name: 'Ann',
      expiresAt: '2026-02-01T08:00:00.000Z',
      profiles: [
        { id: 'p1', name: 'alpha' },
        { id: 'p3', name: 'Banjo' },
        { id: 'p2', name: 'Zither' },
      ],
    });
  });

  it('signs out by clearing the session cookie, Secure when served over HTTPS', async () => {
    const sut = new SessionController(fakeBase(), new Authenticator(config().auth, undefined));
    const plain = reply();
    await sut.logout(plain.reply);
    assert.equal(plain.set['Set-Cookie'], 'kubescaler_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    const tls = reply({ headers: { 'x-forwarded-proto': 'https' } });
    await sut.logout(tls.reply);
    assert.match(tls.set['Set-Cookie']!, /; Secure$/);
  });
});

describe(isHttps.name, () => {
  const request = (protocol: string, forwarded?: string | string[]) =>
    ({ protocol, headers: forwarded === undefined ? {} : { 'x-forwarded-proto': forwarded } }) as FastifyRequest;

  it('is true when served over TLS or behind an ingress that terminated it (first hop counts)', () => {
    assert.ok(isHttps(request('https')));
    assert.ok(isHttps(request('http', 'https')));
    assert.ok(isHttps(request('http', 'https, http')));
    assert.ok(isHttps(request('http', ['https', 'http'])));
  });

  it('is false for plain HTTP, also when only a later hop was HTTPS', () => {
    assert.ok(!isHttps(request('http')));
    assert.ok(!isHttps(request('http', 'http, https')));
    assert.ok(!isHttps(request('http', '')));
  });
});

describe(DevLoginController.name, () => {
  it('refuses to exist without a secret to sign sessions with', () => {
    const open = { ...config(), auth: { ...config().auth, jwtSecret: undefined } } as MainConfig;
    assert.throws(() => new DevLoginController(open, fakeBase()), /development sign-in needs AUTH_JWT_SECRET/);
  });

  it('signs in an existing user with a session cookie that authenticates as that user', async () => {
    const appConfig = config();
    const sut = new DevLoginController(appConfig, fakeBase());
    const { reply: answer, set } = reply();
    const signedIn = await sut.signIn({ userId: ANN.toUpperCase() }, answer);
    assert.deepEqual([signedIn.userId, signedIn.name], [ANN, 'Ann']);
    const cookie = set['Set-Cookie']!;
    assert.match(cookie, /^kubescaler_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax$/);
    const principal = await new Authenticator(appConfig.auth, undefined).authenticate({
      headers: { cookie: cookie.split(';')[0] },
    });
    assert.deepEqual(principal.kind === 'user' && [principal.userId, principal.expiresAt.toISOString()], [
      ANN,
      signedIn.expiresAt,
    ]);
    const hours = (Date.parse(signedIn.expiresAt) - Date.now()) / 3_600_000;
    assert.ok(hours > 7.9 && hours <= 8, `${hours} h`);
  });

  it("passes base's 404 USER_NOT_FOUND on and sets no cookie", async () => {
    const sut = new DevLoginController(config(), fakeBase());
    const { reply: answer, set } = reply();
    await assert.rejects(sut.signIn({ userId: 'b0b00000-0000-4000-8000-000000000002' }, answer), (error) => {
      assert.ok(error instanceof AppError);
      assert.deepEqual([error.status, error.code], [404, 'USER_NOT_FOUND']);
      return true;
    });
    assert.deepEqual(set, {});
  });
});
