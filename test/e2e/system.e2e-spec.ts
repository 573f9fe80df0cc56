import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventually, mintUserToken, request, testInfra } from '@app/testing';
import { ADMIN_TOKEN, createPairs, startSystem, type System } from '../support/system.js';

function assertError404(res: { status: number; body: { code?: string } }): void {
  assert.equal(res.status, 404, JSON.stringify(res.body));
  assert.equal(res.body.code, 'NO_TESTDATA_JOB');
}

/** Opens an SSE stream through `url` with its user's token and resolves once its `hello` event arrived. */
async function openStream(url: string): Promise<{ hello: { pod: string; fencingToken: number }; close(): void }> {
  const controller = new AbortController();
  const userId = new URL(url).pathname.split('/')[2]!;
  const response = await fetch(url, {
    signal: controller.signal,
    headers: { authorization: `Bearer ${await mintUserToken(userId)}` },
  });
  if (response.status !== 200) assert.fail(`stream refused: ${response.status} ${await response.text()}`);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended before hello');
    text += decoder.decode(value, { stream: true });
    const match = /event: hello\ndata: (.*)\n\n/.exec(text);
    if (match) {
      // Keep draining in the background so the server never sees this reader as slow.
      void (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // aborted
        }
      })();
      return { hello: JSON.parse(match[1]!), close: () => controller.abort() };
    }
  }
}

describe('the whole system through the gateway with two stream replicas', () => {
  testInfra();
  let system: System;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const gw = (method: string, path: string, options?: Parameters<typeof request>[3]) =>
    request(system.gateway.url, method, path, options);

  before(async () => {
    system = await startSystem({ streams: 2 });
  });
  after(async () => {
    await system?.stop();
  });

  it('routes /main/* to main and everything else to the stream replicas', async () => {
    assert.equal((await gw('GET', '/main/users')).status, 200);
    const landing = await gw('GET', '/');
    assert.equal(landing.status, 200);
    assert.match(landing.body, /<title>kubescaler<\/title>/);
    const pairPage = await gw('GET', `/index/${randomUUID()}/${randomUUID()}`);
    assert.equal(pairPage.status, 200);
    assert.match(pairPage.body, /kubescaler stream/);
  });

  it("serves main's API only under /main, and main's health and metrics at the root", async () => {
    const main = (path: string) => request(system.main.url, 'GET', path);
    assert.equal((await main('/main/users?limit=1')).status, 200);
    assert.equal((await main('/main/suggested')).status, 200);
    assert.equal((await main('/health/live')).status, 200);
    assert.equal((await main('/metrics')).status, 200);
    for (const path of [
      '/users',
      '/suggested',
      '/testdata',
      `/login/${randomUUID()}`,
      '/main/health/live',
      '/main/metrics',
    ]) {
      assert.equal((await main(path)).status, 404, path);
    }
  });

  it('shows a pair as live on the right pod while it streams, and not after it closes', async () => {
    const [pair] = await createPairs(system.base.url, 1);
    const { userId, profileId } = pair!;
    const stream = await openStream(`${system.gateway.url}/stream/${userId}/${profileId}`);
    assert.match(stream.hello.pod, /^stream-[12]$/);

    const live = await gw('GET', `/main/login/${userId}`);
    assert.equal(live.status, 200);
    assert.equal(live.body.userId, userId);
    assert.equal(live.body.activeProfiles.length, 1);
    assert.equal(live.body.activeProfiles[0].profileId, profileId);
    assert.equal(live.body.activeProfiles[0].pod, stream.hello.pod);
    assert.ok(Date.now() - Date.parse(live.body.activeProfiles[0].since) < 10_000);

    // The other replica refuses the same pair while it is live.
    const again = await gw('GET', `/stream/${userId}/${profileId}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'PROFILE_IN_USE');

    stream.close();
    await eventually(async () => {
      const login = await gw('GET', `/main/login/${userId}`);
      assert.deepEqual(login.body.activeProfiles, [], 'the launched record goes away when the stream closes');
    }, 2000);
    const reopened = await openStream(`${system.gateway.url}/stream/${userId}/${profileId}`);
    assert.ok(reopened.hello.fencingToken > stream.hello.fencingToken, 'fencing tokens only grow');
    reopened.close();
  });

  it('answers /main/login with 400 for a malformed id and 404 for an unknown user', async () => {
    const malformed = await gw('GET', '/main/login/nope');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, 'INVALID_ID');
    const unknown = await gw('GET', `/main/login/${randomUUID()}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'USER_NOT_FOUND');
  });

  it('enforces the admin token and the bounds of test data', async () => {
    assert.equal((await gw('POST', '/main/testdata', { body: {} })).status, 401);
    assert.equal(
      (await gw('POST', '/main/testdata', { body: {}, headers: { authorization: 'Bearer wrong' } })).status,
      403,
    );
    assert.equal((await gw('DELETE', '/main/testdata')).status, 401);
    const bad = [
      { profiles: 100_001 },
      { profiles: 0 },
      { usersPerProfile: 10_001 },
      { sharedUsers: 1001 },
      { profiles: 1.5 },
      { profiles: '10' },
      { usersPerProfile: 9000, sharedUsers: 1001 },
      { profiles: 100_000, usersPerProfile: 11 },
      { profiles: 10_000, usersPerProfile: 100, sharedUsers: 101 },
      { wait: 'no' },
      { seed: -1 },
      { colour: 'red' },
    ];
    for (const body of bad) {
      const res = await gw('POST', '/main/testdata', { body, headers: admin });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
    }
    // Only JSON bodies: a form (what a cross-site "simple" request can send) or text is 415.
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await gw('POST', '/main/testdata', {
        rawBody: 'profiles=1',
        headers: { ...admin, 'content-type': type },
      });
      assert.equal(res.status, 415, `${type} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('creates test data whose shared users are exactly the suggested ones, the same for the same seed', async () => {
    const dropped = await gw('DELETE', '/main/testdata', { headers: admin });
    assert.equal(dropped.status, 204, JSON.stringify(dropped.body));
    const body = { profiles: 6, usersPerProfile: 3, sharedUsers: 2, seed: 1234 };
    const created = await gw('POST', '/main/testdata', { body, headers: admin });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.profiles, 6);
    assert.equal(created.body.users, 6 * 3 + 2);
    assert.equal(created.body.seed, 1234);
    assert.equal(created.body.sharedUserIds.length, 2);

    // The suggestions are at most 5 s old.
    const suggested = await eventually(async () => {
      const res = await gw('GET', '/main/suggested');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items.map((u: { id: string }) => u.id).sort(), [...created.body.sharedUserIds].sort());
      return res;
    }, 10_000);
    for (const user of suggested.body.items) {
      const profiles = await request(system.base.url, 'GET', `/users/${user.id}/profiles`);
      assert.equal(profiles.body.items.length, 6);
      assert.deepEqual([...user.profileIds].sort(), profiles.body.items.map((p: { id: string }) => p.id).sort());
    }

    const counts = await gw('GET', '/main/testdata');
    assert.equal(counts.status, 200);
    assert.equal(counts.body.users, 20);
    assert.equal(counts.body.profiles, 6);
    assert.ok(counts.body.examples.length > 0);
    for (const example of counts.body.examples) {
      assert.equal(example.link, `/index/${example.userId}/${example.profileId}`);
      assert.equal(
        (await request(system.base.url, 'GET', `/profiles/${example.profileId}/users/${example.userId}`)).status,
        204,
      );
    }

    const names = async () => {
      const users = (await gw('GET', '/main/users?limit=1000')).body.items.map((u: { name: string }) => u.name).sort();
      const profiles = (await gw('GET', '/main/profiles?limit=1000')).body.items
        .map((p: { name: string; userIds: string[] }) => `${p.name}/${p.userIds.length}`)
        .sort();
      return { users, profiles };
    };
    const first = await names();
    assert.equal((await gw('DELETE', '/main/testdata', { headers: admin })).status, 204);
    assert.deepEqual(await gw('GET', '/main/testdata').then((r) => [r.body.users, r.body.profiles]), [0, 0]);
    assert.equal((await gw('POST', '/main/testdata', { body, headers: admin })).status, 201);
    assert.deepEqual(await names(), first);
  });

  it('runs a long creation as a job: progress from any call, one at a time (429 + Retry-After), cancellable', async () => {
    assert.equal((await gw('DELETE', '/main/testdata', { headers: admin })).status, 204);
    // 27 batches of 38 profiles: the cancel lands while most are still to come.
    const body = { profiles: 1000, usersPerProfile: 100, sharedUsers: 5, seed: 9, wait: false };
    const started = await gw('POST', '/main/testdata', { body, headers: admin });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.headers.get('location'), '/main/testdata/job');
    assert.equal(started.body.state, 'running');
    assert.deepEqual(started.body.planned, { users: 100_005, profiles: 1000 });

    // While it runs, a second creation and a drop are refused at once.
    for (const [method, again] of [
      ['POST', { ...body, wait: true }],
      ['DELETE', undefined],
    ] as const) {
      const busy = await gw(method, '/main/testdata', { body: again, headers: admin });
      assert.equal(busy.status, 429, `${method} → ${busy.status} ${JSON.stringify(busy.body)}`);
      assert.equal(busy.body.code, 'TESTDATA_BUSY');
      assert.equal(busy.headers.get('retry-after'), '5');
      assert.equal(busy.body.details.jobId, started.body.id);
    }
    assert.equal((await gw('DELETE', '/main/testdata/job')).status, 401, 'cancelling needs the admin token');

    const progressing = await eventually(async () => {
      const job = (await gw('GET', '/main/testdata/job')).body;
      assert.ok(job.created.profiles > 0, JSON.stringify(job));
      return job;
    }, 20_000);
    assert.equal(progressing.id, started.body.id);
    const cancel = await gw('DELETE', '/main/testdata/job', { headers: admin });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    const ended = await eventually(async () => {
      const job = (await gw('GET', '/main/testdata/job')).body;
      assert.notEqual(job.state, 'running');
      return job;
    }, 20_000);
    assert.equal(ended.state, 'cancelled', JSON.stringify(ended));
    assert.ok(ended.created.profiles < 1000, `${ended.created.profiles} profiles made before the cancel took`);
    const counts = (await gw('GET', '/main/testdata')).body;
    assert.deepEqual(
      [counts.users, counts.profiles],
      [ended.created.users, ended.created.profiles],
      'it says what exists',
    );
    assertError404(await gw('DELETE', '/main/testdata/job', { headers: admin }));

    // Once it ended the slot is free again.
    const next = await gw('POST', '/main/testdata', {
      body: { profiles: 2, usersPerProfile: 1, sharedUsers: 0 },
      headers: admin,
    });
    assert.equal(next.status, 201, JSON.stringify(next.body));
    const done = (await gw('GET', '/main/testdata/job')).body;
    assert.equal(done.state, 'done');
    assert.deepEqual(done.created, { users: 2, profiles: 2 });
  });

  it('pages users and profiles through main', async () => {
    const page = await gw('GET', '/main/users?limit=5');
    assert.equal(page.status, 200);
    assert.equal(page.body.items.length, 5);
    assert.ok(page.body.nextPage);
    const next = await gw('GET', `/main/users?limit=5&page=${page.body.nextPage}`);
    assert.equal(next.status, 200);
    assert.ok(
      next.body.items.every((u: { id: string }) => !page.body.items.some((p: { id: string }) => p.id === u.id)),
    );
    assert.equal((await gw('GET', '/main/profiles?limit=2000')).status, 400);
  });

  it('answers only the declared method of each route', async () => {
    for (const [method, path] of [
      ['PUT', '/main/users'],
      ['DELETE', '/main/profiles'],
      ['POST', `/main/login/${randomUUID()}`],
      ['PATCH', '/main/testdata'],
      ['POST', '/main/suggested'],
    ] as const) {
      const res = await gw(method, path, { body: {} });
      assert.ok([404, 405].includes(res.status), `${method} ${path} → ${res.status}`);
    }
  });
});
