import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapWithConcurrency } from '@app/async';
import { request } from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import { createUser, streamPath, streamSuite } from '../support/stream-stack.js';

const PAIRS = 200;
/** Pairs raced at a time; each pair's DELETE and PUT go out together. */
const IN_FLIGHT = 20;

describe('base when a user DELETE races a bind of that user', () => {
  // Every user starts with a profile of its own that nobody is bound to yet: the test binds them.
  const suite = streamSuite('bindrace', { unboundPairs: PAIRS });

  it(`leaves no deleted user bound and admits no stream for one, over ${PAIRS} concurrent delete/bind pairs`, async (t) => {
    const outcomes = { deleted: 0, bound: 0, bindRefused: 0, bindUnavailable: 0, deleteRetries: 0 };
    const unexpected: string[] = [];
    /** Binding checks that passed although they were sent after the user's DELETE had answered. */
    const passedAfterDelete: string[] = [];
    let checks = 0;
    await mapWithConcurrency(suite.unboundPairs, IN_FLIGHT, async ({ userId, profileId }, index) => {
      const binding = `/profiles/${profileId}/users/${userId}`;
      let deletedAt = Number.POSITIVE_INFINITY;
      let retried = false;
      let racing = true;
      // A third party keeps asking the binding check, as the stream tier does, during the race.
      const checker = (async () => {
        while (racing) {
          const sentAt = performance.now();
          const res = await request(suite.stack.base.url, 'GET', binding);
          checks++;
          if (res.status === 204 && sentAt > deletedAt) passedAfterDelete.push(userId);
        }
      })();
      const bind = () => request(suite.stack.base.url, 'PUT', binding);
      // A few milliseconds apart either way, so every interleaving of their reads and writes occurs.
      const remove = async () => {
        await new Promise((resolve) => setTimeout(resolve, index % 11));
        // 503 means "try again" (an LWT that timed out under contention): a client repeats the
        // DELETE until it is answered, as a repeated DELETE finishes the unbinding.
        for (let attempt = 1; ; attempt++) {
          const res = await request(suite.stack.base.url, 'DELETE', `/users/${userId}`);
          if (res.status !== 503 || attempt === 5) {
            deletedAt = performance.now();
            return res;
          }
          outcomes.deleteRetries++;
          retried = true;
        }
      };
      // Alternate which one is sent first, so both orders reach base.
      const [bindRes, deleteRes] =
        index % 2 ? await Promise.all([bind(), remove()]) : (await Promise.all([remove(), bind()])).reverse();
      racing = false;
      await checker;
      // 404 after a retry: the first attempt had deleted the row before it timed out.
      if (deleteRes!.status === 204 || (deleteRes!.status === 404 && retried)) outcomes.deleted++;
      else unexpected.push(`DELETE ${userId} → ${deleteRes!.status} ${JSON.stringify(deleteRes!.body)}`);
      if (bindRes!.status === 204) outcomes.bound++;
      else if (bindRes!.status === 404 && bindRes!.body.code === 'USER_NOT_FOUND') outcomes.bindRefused++;
      else if (bindRes!.status === 503) outcomes.bindUnavailable++;
      else unexpected.push(`PUT ${binding} → ${bindRes!.status} ${JSON.stringify(bindRes!.body)}`);
    });
    assert.deepEqual(unexpected, []);

    let dangling = 0;
    let checkPasses = 0;
    await mapWithConcurrency(suite.unboundPairs, 16, async ({ userId, profileId }) => {
      const profile = await request(suite.stack.base.url, 'GET', `/profiles/${profileId}`);
      assert.equal(profile.status, 200);
      if (profile.body.userIds.includes(userId)) dangling++;
      const check = await request(suite.stack.base.url, 'GET', `/profiles/${profileId}/users/${userId}`);
      if (check.status === 204) checkPasses++;
      else assert.equal(check.body.code, 'USER_NOT_FOUND');
    });
    let admitted = 0;
    await mapWithConcurrency(suite.unboundPairs, 8, async (pair) => {
      const client = await SseClient.open(suite.stream.url, streamPath(pair));
      if (client.streaming) admitted++;
      else assert.equal(client.status, 404);
      await client.close();
    });
    t.diagnostic(
      `${PAIRS} delete/bind pairs: ${outcomes.deleted} deleted (${outcomes.deleteRetries} DELETEs repeated after a 503), ` +
        `bind answered 204 ${outcomes.bound}×, 404 ${outcomes.bindRefused}×, 503 ${outcomes.bindUnavailable}×; ` +
        `${checks} binding checks during the race, ${passedAfterDelete.length} passed after the DELETE answered; ` +
        `afterwards ${dangling} dangling bindings, ${checkPasses} checks passed, ${admitted} streams admitted`,
    );
    assert.equal(outcomes.deleted, PAIRS);
    assert.equal(dangling, 0, 'deleted users left bound');
    assert.equal(checkPasses, 0, 'the binding check passed for deleted users');
    assert.deepEqual(passedAfterDelete, [], 'the binding check passed after the DELETE had answered');
    assert.equal(admitted, 0, 'streams admitted for deleted users');
  });

  it('leaves no deleted user in a profile created with it while it was being deleted', async (t) => {
    const users = await Promise.all(
      Array.from({ length: 50 }, (_, i) => createUser(suite.stack.base.url, `founder ${i}`)),
    );
    const created: { profileId: string; userId: string }[] = [];
    let refused = 0;
    await mapWithConcurrency(users, 10, async (userId, index) => {
      const create = () =>
        request(suite.stack.base.url, 'POST', '/profiles', { body: { name: `p${index}`, userIds: [userId] } });
      const remove = () => request(suite.stack.base.url, 'DELETE', `/users/${userId}`);
      const [createRes, deleteRes] =
        index % 2 ? await Promise.all([create(), remove()]) : (await Promise.all([remove(), create()])).reverse();
      assert.equal(deleteRes!.status, 204);
      if (createRes!.status === 201) created.push({ profileId: createRes!.body.id, userId });
      else {
        assert.equal(createRes!.status, 422, JSON.stringify(createRes!.body));
        refused++;
      }
    });
    let dangling = 0;
    for (const { profileId, userId } of created) {
      const profile = await request(suite.stack.base.url, 'GET', `/profiles/${profileId}`);
      if (profile.status === 200 && profile.body.userIds.includes(userId)) dangling++;
    }
    t.diagnostic(
      `50 create/delete pairs: ${created.length} profiles created, ${refused} refused (422); ${dangling} dangling`,
    );
    assert.equal(dangling, 0);
  });
});
