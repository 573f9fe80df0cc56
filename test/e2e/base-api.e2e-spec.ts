import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, eventually, request, startApp, testInfra, uniqueKeyspace } from '@app/testing';
import { headerOf, rawExchange } from '../support/raw-http.js';

const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('base API on a real port', () => {
  testInfra();
  const keyspace = uniqueKeyspace('baseapi');
  let base: AppProcess;
  const call = (method: string, path: string, options?: Parameters<typeof request>[3]) =>
    request(base.url, method, path, options);
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  const createUser = async (name: string): Promise<string> => {
    const res = await call('POST', '/users', { body: { name } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  };
  const countUsers = async (): Promise<number> => {
    let n = 0;
    let page: string | undefined;
    do {
      const res = await call('GET', `/users?limit=1000${page ? `&page=${page}` : ''}`);
      n += res.body.items.length;
      page = res.body.nextPage;
    } while (page);
    return n;
  };
  const assertError = (res: { status: number; body: any }, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.statusCode, status);
    assert.equal(res.body.code, code);
    assert.equal(typeof res.body.message, 'string');
  };

  before(async () => {
    base = await startApp('base', { CASSANDRA_KEYSPACE: keyspace, ADMIN_TOKEN });
  });

  after(async () => {
    await call('DELETE', '/users', { headers: admin });
    await base?.stop();
  });

  describe('callers', () => {
    it('refuses every request without a credential 401 — reads, writes, binds and unknown routes — and changes nothing', async () => {
      const user = await createUser('guarded');
      const profile = (await call('POST', '/profiles', { body: { name: 'guarded', userIds: [] } })).body.id;
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', '/users'],
        ['GET', `/users/${user}`],
        ['POST', '/users', { name: 'intruder' }],
        ['PUT', `/users/${user}`, { name: 'renamed' }],
        ['DELETE', `/users/${user}`],
        ['PUT', `/profiles/${profile}/users/${user}`],
        ['DELETE', `/profiles/${profile}`],
        ['GET', '/no-such-route'],
      ];
      for (const [method, path, body] of attempts) {
        for (const headers of [{}, { authorization: 'Bearer a-guess-at-the-token-0123' }] as Record<string, string>[]) {
          const res = await call(method, path, { body, headers, auth: 'none' });
          assertError(res, 401, 'UNAUTHENTICATED');
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        }
      }
      assert.equal((await call('GET', `/users/${user}`)).body.name, 'guarded');
      assert.deepEqual((await call('GET', `/profiles/${profile}`)).body.userIds, []);
    });

    it('answers the admin token as well as the internal service credential', async () => {
      assert.equal((await call('GET', '/users?limit=1', { headers: admin })).status, 200);
      assert.equal((await call('GET', '/users?limit=1')).status, 200);
    });

    it('leaves the probes and /metrics open to whoever the network lets reach them', async () => {
      for (const path of ['/health/live', '/health/ready', '/metrics']) {
        assert.equal((await call('GET', path, { auth: 'none' })).status, 200, path);
      }
    });
  });

  describe('names and bodies', () => {
    it('refuses names with NUL, CR/LF, bidi controls, only invisible characters or lone surrogates 400 INVALID_NAME', async () => {
      const bad = ['a\u0000b', 'a\r\nSet-Cookie: x', 'abc\u202etxt.exe', '\u200b\u200c\u200d', 'a\ud800', '\udc00'];
      for (const name of bad) {
        assertError(await call('POST', '/users', { body: { name } }), 400, 'INVALID_NAME');
      }
      const user = await createUser('Zoë 山田 👩‍💻');
      assertError(await call('PUT', `/users/${user}`, { body: { name: 'x\u202ey' } }), 400, 'INVALID_NAME');
      assertError(await call('POST', '/profiles', { body: { name: '\u0000', userIds: [] } }), 400, 'INVALID_NAME');
      assert.equal((await call('GET', `/users/${user}`)).body.name, 'Zoë 山田 👩‍💻');
    });

    it('refuses a body that is not valid UTF-8 400 INVALID_ENCODING instead of storing U+FFFD', async () => {
      const body = Buffer.concat([Buffer.from('{"name":"ab'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      const token = process.env.INTERNAL_TOKEN!;
      const res = await rawExchange(
        base.url,
        Buffer.concat([
          Buffer.from(
            `POST /users HTTP/1.1\r\nHost: base\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
              `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
          ),
          body,
        ]),
      );
      assert.equal(res.status, 400, res.head);
      assert.equal(JSON.parse(res.body).code, 'INVALID_ENCODING');
    });

    it("answers the HTTP parser's refusals in the catalog JSON: a bad header 400 BAD_REQUEST, huge headers 431", async () => {
      const bad = await rawExchange(base.url, 'GET /users HTTP/1.1\r\nHost: base\r\nBad Header\r\n\r\n');
      assert.equal(bad.status, 400, bad.head);
      assert.deepEqual(JSON.parse(bad.body).code, 'BAD_REQUEST');
      assert.match(headerOf(bad.head, 'content-type') ?? '', /^application\/json/);
      const huge = await rawExchange(
        base.url,
        `GET /users HTTP/1.1\r\nHost: base\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      assert.equal(huge.status, 431, huge.head);
      assert.deepEqual(JSON.parse(huge.body).code, 'HEADERS_TOO_LARGE');
    });
  });

  describe('health and metrics', () => {
    it('is live and ready with Cassandra up', async () => {
      assert.equal((await call('GET', '/health/live')).status, 200);
      const ready = await call('GET', '/health/ready');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ok', checks: { cassandra: 'up' } });
    });

    it('exposes the request histogram by route pattern and the process metrics', async () => {
      await call('GET', `/users/${randomUUID()}`);
      const res = await call('GET', '/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(res.body, /http_request_duration_seconds_bucket\{[^}]*route="\/users\/:id"[^}]*status_code="404"/);
      assert.match(res.body, /^process_cpu_user_seconds_total \d/m);
      assert.doesNotMatch(res.body, /route="\/users\/[0-9a-f]{8}-/, 'ids never become label values');
    });

    it('answers an unknown route with a JSON 404', async () => {
      assertError(await call('GET', '/nope'), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('users', () => {
    it('creates, reads, renames and lists a user', async () => {
      const created = await call('POST', '/users', { body: { name: '  Grace  ' } });
      assert.equal(created.status, 201);
      assert.match(created.body.id, UUID_V4);
      assert.equal(created.body.name, 'Grace');
      assert.equal(created.headers.get('location'), `/users/${created.body.id}`);

      const read = await call('GET', `/users/${created.body.id.toUpperCase()}`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, created.body);

      const renamed = await call('PUT', `/users/${created.body.id}`, { body: { name: 'Grace H.' } });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.body.name, 'Grace H.');
      assert.equal((await call('GET', `/users/${created.body.id}`)).body.name, 'Grace H.');
    });

    it('pages with limit and an opaque nextPage token', async () => {
      for (let i = 0; i < 3; i++) await createUser(`pager ${i}`);
      const total = await countUsers();
      const seen = new Set<string>();
      let page: string | undefined;
      let pages = 0;
      do {
        const res = await call('GET', `/users?limit=2${page ? `&page=${page}` : ''}`);
        assert.equal(res.status, 200);
        assert.ok(res.body.items.length <= 2);
        for (const item of res.body.items) seen.add(item.id);
        page = res.body.nextPage;
        pages++;
      } while (page);
      assert.equal(seen.size, total);
      assert.ok(pages >= 2);
      const defaults = await call('GET', '/users');
      assert.equal(defaults.status, 200);
      assert.ok(Array.isArray(defaults.body.items));
    });

    it('refuses bad paging parameters with 400', async () => {
      assertError(await call('GET', '/users?limit=1001'), 400, 'VALIDATION_FAILED');
      assertError(await call('GET', '/users?limit=0'), 400, 'VALIDATION_FAILED');
      assertError(await call('GET', '/users?limit=ten'), 400, 'VALIDATION_FAILED');
      assertError(await call('GET', '/users?page=not*a*token'), 400, 'INVALID_PAGE_TOKEN');
      assertError(await call('GET', '/users?page=AAAA'), 400, 'INVALID_PAGE_TOKEN');
      assert.equal((await call('GET', '/users?limit=1000')).status, 200);
    });

    it('refuses every bad body with a clear 4xx and writes nothing', async () => {
      const before = await countUsers();
      const cases: Array<[Parameters<typeof request>[3], number, string]> = [
        [{ body: {} }, 400, 'VALIDATION_FAILED'],
        [{ body: { name: '' } }, 400, 'VALIDATION_FAILED'],
        [{ body: { name: '   ' } }, 400, 'VALIDATION_FAILED'],
        [{ body: { name: 'x'.repeat(201) } }, 400, 'VALIDATION_FAILED'],
        [{ body: { name: 42 } }, 400, 'VALIDATION_FAILED'],
        [{ body: { name: 'ok', admin: true } }, 400, 'VALIDATION_FAILED'],
        [{ body: ['name'] }, 400, 'VALIDATION_FAILED'],
        [{ rawBody: '{"name": ', headers: { 'content-type': 'application/json' } }, 400, 'VALIDATION_FAILED'],
        [{}, 400, 'VALIDATION_FAILED'],
        [{ rawBody: 'name=x', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        // A form is what a cross-site "simple" request may send: never accepted.
        [
          { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          { rawBody: 'name=x', headers: { 'content-type': 'multipart/form-data; boundary=b' } },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        [{ body: { name: 'x'.repeat(1024 * 1024 + 1) } }, 413, 'PAYLOAD_TOO_LARGE'],
      ];
      for (const [options, status, code] of cases) {
        assertError(await call('POST', '/users', options), status, code);
      }
      const message = (await call('POST', '/users', { body: { name: 'x'.repeat(201) } })).body.message;
      assert.match(message, /name: name must be at most 200 characters/);
      assert.match((await call('POST', '/users', { body: { name: 'a', extra: 1 } })).body.message, /extra/);
      assert.equal(await countUsers(), before);
      assert.equal((await call('POST', '/users', { body: { name: 'y'.repeat(200) } })).status, 201);
    });

    it('answers 400 for malformed ids and 404 for unknown ones', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const body = method === 'PUT' ? { name: 'n' } : undefined;
        assertError(await call(method, '/users/not-a-uuid', { body }), 400, 'INVALID_ID');
        assertError(await call(method, `/users/${randomUUID()}`, { body }), 404, 'USER_NOT_FOUND');
      }
      assertError(await call('GET', '/users/123/profiles'), 400, 'INVALID_ID');
      assertError(await call('GET', `/users/${randomUUID()}/profiles`), 404, 'USER_NOT_FOUND');
    });
  });

  describe('profiles and bindings', () => {
    it('creates a profile bound to existing users and lists it as their profile', async () => {
      const [a, b] = [await createUser('A'), await createUser('B')];
      const res = await call('POST', '/profiles', { body: { name: 'Shared', userIds: [a, b, a] } });
      assert.equal(res.status, 201);
      assert.match(res.body.id, UUID_V4);
      assert.deepEqual(res.body.userIds, [a, b].sort());
      assert.equal(res.headers.get('location'), `/profiles/${res.body.id}`);

      const ofA = await call('GET', `/users/${a}/profiles`);
      assert.equal(ofA.status, 200);
      assert.deepEqual(
        ofA.body.items.map((p: { id: string }) => p.id),
        [res.body.id],
      );
      assert.deepEqual((await call('GET', `/profiles/${res.body.id}`)).body, res.body);

      const renamed = await call('PUT', `/profiles/${res.body.id}`, { body: { name: 'Renamed' } });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.body.name, 'Renamed');
    });

    it('refuses unknown users with 422 naming them, and writes nothing', async () => {
      const known = await createUser('known');
      const unknown = [randomUUID(), randomUUID()];
      const before = (await call('GET', '/profiles?limit=1000')).body.items.length;
      const res = await call('POST', '/profiles', { body: { name: 'bad', userIds: [known, ...unknown] } });
      assertError(res, 422, 'UNKNOWN_USERS');
      for (const id of unknown) assert.ok(res.body.message.includes(id));
      assert.deepEqual([...res.body.details.unknownUserIds].sort(), [...unknown].sort());
      assert.equal((await call('GET', '/profiles?limit=1000')).body.items.length, before);
    });

    it('refuses bad profile bodies and ids', async () => {
      assertError(
        await call('POST', '/profiles', { body: { name: 'p', userIds: ['nope'] } }),
        400,
        'VALIDATION_FAILED',
      );
      assertError(await call('POST', '/profiles', { body: { userIds: [] } }), 400, 'VALIDATION_FAILED');
      assertError(await call('POST', '/profiles', { body: { name: 'p', users: [] } }), 400, 'VALIDATION_FAILED');
      assertError(await call('PUT', `/profiles/${randomUUID()}`, { body: { name: 'p' } }), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('GET', '/profiles/zzz'), 400, 'INVALID_ID');
      assertError(await call('GET', `/profiles/${randomUUID()}`), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('DELETE', `/profiles/${randomUUID()}`), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('GET', '/profiles?limit=5000'), 400, 'VALIDATION_FAILED');
    });

    it('binds and unbinds idempotently and answers the binding check with 204/404', async () => {
      const user = await createUser('binder');
      const profile = (await call('POST', '/profiles', { body: { name: 'Solo' } })).body.id;
      const binding = `/profiles/${profile}/users/${user}`;

      assertError(await call('GET', binding), 404, 'BINDING_NOT_FOUND');
      assert.equal((await call('PUT', binding)).status, 204);
      assert.equal((await call('PUT', binding)).status, 204);
      assert.equal((await call('GET', binding)).status, 204);
      assert.deepEqual((await call('GET', `/profiles/${profile}`)).body.userIds, [user]);

      assert.equal((await call('DELETE', binding)).status, 204);
      assert.equal((await call('DELETE', binding)).status, 204);
      assertError(await call('GET', binding), 404, 'BINDING_NOT_FOUND');

      assertError(await call('GET', `/profiles/${randomUUID()}/users/${user}`), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('GET', `/profiles/${profile}/users/${randomUUID()}`), 404, 'USER_NOT_FOUND');
      assertError(await call('PUT', `/profiles/${randomUUID()}/users/${user}`), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('PUT', `/profiles/${profile}/users/${randomUUID()}`), 404, 'USER_NOT_FOUND');
      assertError(await call('DELETE', `/profiles/${randomUUID()}/users/${user}`), 404, 'PROFILE_NOT_FOUND');
      assertError(await call('PUT', `/profiles/${profile}/users/bad`), 400, 'INVALID_ID');
    });

    it('unbinds a deleted user from every profile', async () => {
      const user = await createUser('leaver');
      const stay = await createUser('stayer');
      const p1 = (await call('POST', '/profiles', { body: { name: 'one', userIds: [user, stay] } })).body.id;
      const p2 = (await call('POST', '/profiles', { body: { name: 'two', userIds: [user] } })).body.id;
      assert.equal((await call('DELETE', `/users/${user}`)).status, 204);
      assertError(await call('GET', `/users/${user}`), 404, 'USER_NOT_FOUND');
      assert.deepEqual((await call('GET', `/profiles/${p1}`)).body.userIds, [stay]);
      assert.deepEqual((await call('GET', `/profiles/${p2}`)).body.userIds, []);
      assertError(await call('DELETE', `/users/${user}`), 404, 'USER_NOT_FOUND');
    });

    it('deletes a profile', async () => {
      const profile = (await call('POST', '/profiles', { body: { name: 'temp' } })).body.id;
      assert.equal((await call('DELETE', `/profiles/${profile}`)).status, 204);
      assertError(await call('GET', `/profiles/${profile}`), 404, 'PROFILE_NOT_FOUND');
    });
  });

  describe('bulk creation, maintained aggregates and paged bindings', () => {
    it('creates users and profiles in batches (admin only), counted at once, with shared users ranked', async () => {
      const before = (await call('GET', '/counts')).body;
      // The service credential is not the admin token.
      assertError(await call('POST', '/users/batch', { body: { names: ['x'] } }), 403, 'FORBIDDEN');
      assertError(await call('POST', '/profiles/batch', { body: { profiles: [{ name: 'x' }] } }), 403, 'FORBIDDEN');
      assertError(
        await call('POST', '/users/batch', { body: { names: [] }, headers: admin }),
        400,
        'VALIDATION_FAILED',
      );
      assertError(
        await call('POST', '/users/batch', { body: { names: Array(10_001).fill('n') }, headers: admin }),
        400,
        'VALIDATION_FAILED',
      );
      const shared = await call('POST', '/users/batch', { body: { names: ['S1', 'S2'] }, headers: admin });
      assert.equal(shared.status, 201, JSON.stringify(shared.body));
      const sharedIds = shared.body.items.map((u: { id: string }) => u.id);
      const unknown = await call('POST', '/profiles/batch', {
        body: { profiles: [{ name: 'x', userIds: [randomUUID()] }] },
        headers: admin,
      });
      assertError(unknown, 422, 'UNKNOWN_USERS');
      const made = await call('POST', '/profiles/batch', {
        body: {
          profiles: Array.from({ length: 3 }, (_, i) => ({
            name: `bulk ${i}`,
            newUsers: Array.from({ length: 60 }, (_, u) => `bulk ${i}.${u}`),
            userIds: sharedIds,
          })),
        },
        headers: admin,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(
        made.body.items.map((p: { newUserIds: string[] }) => p.newUserIds.length),
        [60, 60, 60],
      );
      const after = (await call('GET', '/counts')).body;
      assert.deepEqual([after.users, after.profiles], [before.users + 2 + 180, before.profiles + 3]);
      assert.ok(after.examples.length > 0 && after.examples.length <= 5);
      for (const { userId, profileId } of after.examples) {
        assert.equal((await call('GET', `/profiles/${profileId}/users/${userId}`)).status, 204);
      }
      const suggested = await eventually(async () => {
        const res = await call('GET', '/suggested');
        const mine = res.body.items.filter((u: { id: string }) => sharedIds.includes(u.id));
        assert.equal(mine.length, 2, JSON.stringify(res.body));
        return mine;
      }, 10_000);
      for (const user of suggested) {
        assert.equal(user.profileCount, 3);
        assert.deepEqual([...user.profileIds].sort(), made.body.items.map((p: { id: string }) => p.id).sort());
        assert.match(user.name, /^S[12]$/);
      }
    });

    it("pages a profile's users and a user's profiles; a profile shows its first 100 users", async () => {
      const [u] = (await call('POST', '/users/batch', { body: { names: ['pager'] }, headers: admin })).body.items;
      const made = await call('POST', '/profiles/batch', {
        body: {
          profiles: [
            { name: 'wide', newUsers: Array.from({ length: 150 }, (_, i) => `w${i}`), userIds: [u.id] },
            ...Array.from({ length: 4 }, (_, i) => ({ name: `of pager ${i}`, userIds: [u.id] })),
          ],
        },
        headers: admin,
      });
      const wide = made.body.items[0].id;
      const profile = (await call('GET', `/profiles/${wide}`)).body;
      assert.equal(profile.userIds.length, 100);
      assert.equal(profile.moreUsers, true);
      const seen: string[] = [];
      let page: string | undefined;
      do {
        const res = await call('GET', `/profiles/${wide}/users?limit=40${page ? `&page=${page}` : ''}`);
        assert.equal(res.status, 200);
        seen.push(...res.body.items);
        page = res.body.nextPage;
      } while (page);
      assert.equal(new Set(seen).size, 151);
      const ofUser = await call('GET', `/users/${u.id}/profiles?limit=2`);
      assert.equal(ofUser.body.items.length, 2);
      assert.ok(ofUser.body.nextPage);
      const all = await call('GET', `/users/${u.id}/profiles`);
      assert.deepEqual(all.body.items.map((p: { id: string; name: string }) => p.name).sort(), [
        'of pager 0',
        'of pager 1',
        'of pager 2',
        'of pager 3',
        'wide',
      ]);
      const ids = await call('GET', `/users/${u.id}/profile-ids`);
      assert.deepEqual([...ids.body.items].sort(), all.body.items.map((p: { id: string }) => p.id).sort());
      assertError(await call('GET', `/users/${randomUUID()}/profile-ids`), 404, 'USER_NOT_FOUND');
      assertError(await call('GET', `/users/${u.id}/profiles?limit=10001`), 400, 'VALIDATION_FAILED');
      assertError(await call('GET', `/profiles/${randomUUID()}/users`), 404, 'PROFILE_NOT_FOUND');
    });
  });

  describe('drop-all endpoints', () => {
    it('require the admin token: 401 without any credential, 403 with the service credential, 401 with a wrong one', async () => {
      for (const path of ['/users', '/profiles']) {
        const missing = await call('DELETE', path, { auth: 'none' });
        assertError(missing, 401, 'UNAUTHENTICATED');
        assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
        assertError(await call('DELETE', path), 403, 'FORBIDDEN');
        assertError(
          await call('DELETE', path, { headers: { authorization: 'Bearer wrong-token' } }),
          401,
          'UNAUTHENTICATED',
        );
        assertError(await call('DELETE', path, { headers: { authorization: ADMIN_TOKEN } }), 401, 'UNAUTHENTICATED');
      }
      assert.ok((await countUsers()) > 0, 'nothing was dropped');
    });

    it('drop every user (unbinding them) and every profile with the token', async () => {
      const user = await createUser('last');
      const profile = (await call('POST', '/profiles', { body: { name: 'last', userIds: [user] } })).body.id;
      assert.equal((await call('DELETE', '/users', { headers: admin })).status, 204);
      assert.equal(await countUsers(), 0);
      assert.deepEqual((await call('GET', `/profiles/${profile}`)).body.userIds, []);
      assert.equal((await call('DELETE', '/profiles', { headers: admin })).status, 204);
      assert.deepEqual((await call('GET', '/profiles')).body.items, []);
    });
  });
});

describe('base without an ADMIN_TOKEN', () => {
  let base: AppProcess;
  before(async () => {
    base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('noadmin'), ADMIN_TOKEN: '' });
  });
  after(async () => {
    await base?.stop();
  });

  it('refuses the drop-all endpoints to its peers: the service credential is no admin token', async () => {
    const res = await request(base.url, 'DELETE', '/users');
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'ADMIN_DISABLED');
    assert.equal((await request(base.url, 'DELETE', '/users', { auth: 'none' })).status, 401);
  });
});
