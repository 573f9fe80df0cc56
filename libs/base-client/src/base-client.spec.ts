import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AppError, type ErrorCode } from '@app/errors';
import { BaseClient, pageThrough } from './base-client.js';
import type { Paged } from './contract.js';

const USER = '6f1c1c52-6a52-4d1e-9a53-4d86d6a2d0b1';
const PROFILE = 'b3e1a0f4-2c1d-4e5f-8a9b-0c1d2e3f4a5b';
const TIMEOUT_MS = 300;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (request: Seen, response: ServerResponse) => void;

/** A tiny HTTP server standing in for base: every request goes to the current `answer`. */
class FakeBaseServer {
  readonly seen: Seen[] = [];
  answer: Handler = (_request, response) => json(response, 200, {});
  private readonly server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const seen = { method: request.method!, url: request.url!, headers: request.headers, body };
      this.seen.push(seen);
      this.answer(seen, response);
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function refusal(status: number, code: string, message = `${code} from base`, details?: unknown) {
  return (_request: Seen, response: ServerResponse) =>
    json(response, status, { statusCode: status, code, message, details });
}

/** Asserts `promise` rejects with an `AppError` of `code` (and `status`), and returns it. */
async function rejection(promise: Promise<unknown>, code: ErrorCode, status: number): Promise<AppError> {
  const error = await promise.then(
    () => assert.fail(`resolved; expected ${status} ${code}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof AppError, String(error));
  assert.deepEqual([error.status, error.code], [status, code], error.message);
  return error;
}

/** base could not be trusted to have answered: 503 naming base, with Retry-After. */
async function unavailable(promise: Promise<unknown>): Promise<AppError> {
  const error = await rejection(promise, 'DEPENDENCY_UNAVAILABLE', 503);
  assert.deepEqual(error.details, { dependency: 'base' });
  assert.equal(error.retryAfterSeconds, 1);
  return error;
}

describe(BaseClient.name, () => {
  const base = new FakeBaseServer();
  let sut: BaseClient;

  before(async () => {
    sut = new BaseClient(await base.listen(), {
      timeoutMs: TIMEOUT_MS,
      adminToken: 'the-admin-token',
      internalToken: 'the-internal-service-token',
    });
  });

  after(async () => {
    await sut.close();
    await base.close();
  });

  beforeEach(() => {
    base.seen.length = 0;
  });

  describe('assertBound', () => {
    it('resolves on exactly 204, asking base about the pair', async () => {
      base.answer = (_request, response) => response.writeHead(204).end();
      await sut.assertBound(USER, PROFILE);
      assert.deepEqual(
        base.seen.map((seen) => `${seen.method} ${seen.url}`),
        [`GET /profiles/${PROFILE}/users/${USER}`],
      );
    });

    for (const code of ['USER_NOT_FOUND', 'PROFILE_NOT_FOUND', 'BINDING_NOT_FOUND'] as const) {
      it(`passes on base's 404 ${code} with base's message`, async () => {
        base.answer = refusal(404, code, `said by base about ${code}`);
        const error = await rejection(sut.assertBound(USER, PROFILE), code, 404);
        assert.equal(error.message, `said by base about ${code}`);
      });
    }

    it('fails closed on any success that is not 204: 200 with or without a body is 503', async () => {
      base.answer = (_request, response) => json(response, 200, { bound: true });
      await unavailable(sut.assertBound(USER, PROFILE));
      base.answer = (_request, response) => response.writeHead(200).end();
      await unavailable(sut.assertBound(USER, PROFILE));
    });

    it('calls a redirect 503, without following it', async () => {
      base.answer = (_request, response) => response.writeHead(302, { location: '/elsewhere' }).end();
      await unavailable(sut.assertBound(USER, PROFILE));
      assert.equal(base.seen.length, 1);
    });

    it('calls a 404 without one of the binding codes 503: a route base does not have, no code, a stranger', async () => {
      for (const answer of [
        refusal(404, 'ROUTE_NOT_FOUND', 'Cannot GET /profiles'),
        (_request: Seen, response: ServerResponse) => json(response, 404, { message: 'Not Found' }),
        (_request: Seen, response: ServerResponse) => response.writeHead(404, { 'content-type': 'text/html' }).end(),
        refusal(404, 'NO_SUCH_CODE'),
      ]) {
        base.answer = answer;
        await unavailable(sut.assertBound(USER, PROFILE));
      }
    });

    it("calls base's other refusals and failures 503, even when they carry one of our codes", async () => {
      for (const answer of [
        refusal(403, 'NOT_BOUND'),
        refusal(400, 'INVALID_ID'),
        refusal(500, 'INTERNAL'),
        refusal(503, 'DEPENDENCY_UNAVAILABLE', 'cassandra is unavailable, try again shortly'),
      ]) {
        base.answer = answer;
        await unavailable(sut.assertBound(USER, PROFILE));
      }
    });

    it('calls a body that is not JSON 503', async () => {
      base.answer = (_request, response) =>
        response.writeHead(404, { 'content-type': 'application/json' }).end('{nope');
      await unavailable(sut.assertBound(USER, PROFILE));
    });

    it('calls a base that does not answer within the timeout 503, soon after the timeout', async () => {
      base.answer = () => {};
      const started = performance.now();
      await unavailable(sut.assertBound(USER, PROFILE));
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= TIMEOUT_MS - 20, `gave up after ${elapsed.toFixed(0)} ms`);
    });
    it('calls an answer whose body trickles on past the timeout 503: the deadline holds for the whole call', async () => {
      base.answer = (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        // A byte well within the per-chunk idle timeout each time, never the end of the body.
        const drip = setInterval(() => response.write(' '), TIMEOUT_MS / 6);
        response.on('close', () => clearInterval(drip));
      };
      const started = performance.now();
      await unavailable(sut.getUser(USER));
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= TIMEOUT_MS - 20 && elapsed < TIMEOUT_MS * 2, `gave up after ${elapsed.toFixed(0)} ms`);
    });
  });

  describe('other calls', () => {
    it("passes on base's 4xx answers whose code carries that status: code, message and details", async () => {
      base.answer = refusal(422, 'UNKNOWN_USERS', 'Unknown user ids: x', { unknownUserIds: ['x'] });
      const error = await rejection(sut.createProfile('p', ['x']), 'UNKNOWN_USERS', 422);
      assert.deepEqual(error.toBody(), {
        statusCode: 422,
        code: 'UNKNOWN_USERS',
        message: 'Unknown user ids: x',
        details: { unknownUserIds: ['x'] },
      });
      base.answer = refusal(404, 'USER_NOT_FOUND', `User ${USER} does not exist`);
      assert.equal((await rejection(sut.getUser(USER), 'USER_NOT_FOUND', 404)).message, `User ${USER} does not exist`);
    });

    it('calls a 4xx whose code has another status, or is none of ours, 503', async () => {
      base.answer = refusal(404, 'PROFILE_IN_USE');
      await unavailable(sut.getUser(USER));
      base.answer = refusal(409, 'NO_SUCH_CODE');
      await unavailable(sut.getUser(USER));
    });

    it('calls every 5xx and every redirect 503, whatever code it carries', async () => {
      for (const answer of [
        refusal(503, 'DEPENDENCY_UNAVAILABLE'),
        refusal(500, 'INTERNAL'),
        (_request: Seen, response: ServerResponse) => response.writeHead(301, { location: '/users' }).end(),
      ]) {
        base.answer = answer;
        await unavailable(sut.listUsers(10));
      }
    });

    it('calls a base nobody listens on 503', async () => {
      const gone = new FakeBaseServer();
      const client = new BaseClient(await gone.listen(), { timeoutMs: TIMEOUT_MS });
      await gone.close();
      try {
        await unavailable(client.ping());
      } finally {
        await client.close();
      }
    });

    it('returns the JSON of a 2xx, with the page query and the body it sent', async () => {
      base.answer = (_request, response) => json(response, 200, { items: [], nextPage: 'n2' });
      assert.deepEqual(await sut.listProfiles(5, 'n1'), { items: [], nextPage: 'n2' });
      base.answer = (_request, response) => json(response, 201, { id: USER, name: 'Ann', createdAt: 'now' });
      assert.deepEqual(await sut.createUser('Ann'), { id: USER, name: 'Ann', createdAt: 'now' });
      const [list, create] = base.seen;
      assert.equal(`${list!.method} ${list!.url}`, 'GET /profiles?limit=5&page=n1');
      assert.equal(`${create!.method} ${create!.url}`, 'POST /users');
      assert.equal(create!.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(create!.body), { name: 'Ann' });
    });

    it('sends the admin token with the drop-all calls and the internal service token with every other', async () => {
      base.answer = (_request, response) => response.writeHead(204).end();
      await sut.deleteAllUsers();
      await sut.deleteAllProfiles();
      await sut.assertBound(USER, PROFILE);
      base.answer = (_request, response) => json(response, 200, { items: [] });
      await sut.listUsers(1);
      await sut.ping();
      assert.deepEqual(
        base.seen.map((seen) => [`${seen.method} ${seen.url}`, seen.headers.authorization]),
        [
          ['DELETE /users', 'Bearer the-admin-token'],
          ['DELETE /profiles', 'Bearer the-admin-token'],
          [`GET /profiles/${PROFILE}/users/${USER}`, 'Bearer the-internal-service-token'],
          ['GET /users?limit=1', 'Bearer the-internal-service-token'],
          ['GET /health/ready', 'Bearer the-internal-service-token'],
        ],
      );
    });

    it('puts every id into the path as one percent-encoded segment, never as a path or a query', async () => {
      base.answer = (_request, response) => json(response, 200, { id: USER, name: 'Ann', createdAt: 'now', items: [] });
      await sut.getUser('?limit=1');
      await sut.profilesOf('../profiles');
      await sut.profileIdsOf(' x/y#z');
      base.answer = (_request, response) => response.writeHead(204).end();
      await sut.assertBound('a/b', '?c');
      assert.deepEqual(
        base.seen.map((seen) => seen.url),
        [
          '/users/%3Flimit%3D1',
          '/users/..%2Fprofiles/profiles?limit=10000',
          '/users/%20x%2Fy%23z/profile-ids?limit=10000',
          '/profiles/%3Fc/users/a%2Fb',
        ],
      );
    });
  });
});

/** A paged list served from memory, recording the page token of every request. */
function pagedList(pages: string[][]) {
  const requests: (string | undefined)[] = [];
  const fetchPage = async (page?: string): Promise<Paged<string>> => {
    requests.push(page);
    const index = page === undefined ? 0 : Number(page.slice('token-'.length));
    if (Number.isNaN(index) || index >= pages.length) throw new Error(`unknown page ${page}`);
    return index + 1 < pages.length ? { items: pages[index], nextPage: `token-${index + 1}` } : { items: pages[index] };
  };
  return { requests, fetchPage };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe(pageThrough.name, () => {
  it('yields every item of every page in order, passing on each nextPage token', async () => {
    const list = pagedList([['a', 'b'], ['c'], ['d', 'e']]);
    const sut = pageThrough(list.fetchPage);
    assert.deepEqual(await collect(sut), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(list.requests, [undefined, 'token-1', 'token-2']);
  });

  it('asks for one page when the list fits in it, and yields nothing for an empty list', async () => {
    const empty = pagedList([[]]);
    assert.deepEqual(await collect(pageThrough(empty.fetchPage)), []);
    assert.deepEqual(empty.requests, [undefined]);
  });

  it('fetches the next page only when the caller has taken the previous one', async () => {
    const list = pagedList([['a', 'b'], ['c']]);
    const sut = pageThrough(list.fetchPage);
    assert.equal(list.requests.length, 0);
    for await (const item of sut) if (item === 'b') break;
    assert.deepEqual(list.requests, [undefined]);
  });

  it('rejects with the failure of a page after yielding the pages before it', async () => {
    const seen: string[] = [];
    const sut = pageThrough(async (page?: string): Promise<Paged<string>> => {
      if (page === undefined) return { items: ['a'], nextPage: 'next' };
      throw new Error('base is unavailable');
    });
    await assert.rejects(async () => {
      for await (const item of sut) seen.push(item);
    }, /base is unavailable/);
    assert.deepEqual(seen, ['a']);
  });
});
