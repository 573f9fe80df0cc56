import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExecutionError, type ExecutionStats, ResourceLockedError } from '@sesamecare-oss/redlock';
import { classifyAcquireFailure, explainRedlockFailure } from './acquire-failure.js';

type Vote = 'locked' | 'down' | 'for';

/** A redlock quorum failure whose servers voted `votes` (fake clients: the votes are all that counts). */
function quorumFailure(votes: Vote[]): ExecutionError {
  const stats = {
    membershipSize: votes.length,
    quorumSize: Math.floor(votes.length / 2) + 1,
    votesFor: new Set<never>(),
    votesAgainst: new Map<never, Error>(),
  };
  votes.forEach((vote, index) => {
    const client = { index } as never;
    if (vote === 'for') stats.votesFor.add(client);
    else if (vote === 'locked') stats.votesAgainst.set(client, new ResourceLockedError('applied to 0 of 1'));
    else stats.votesAgainst.set(client, new Error("Stream isn't writeable and enableOfflineQueue options is false"));
  });
  return new ExecutionError('unable to achieve a quorum', [Promise.resolve(stats as unknown as ExecutionStats)]);
}

describe(classifyAcquireFailure.name, () => {
  const sut = classifyAcquireFailure;

  it('calls the pair busy when the only server says it is locked', async () => {
    assert.equal(await sut(quorumFailure(['locked'])), 'busy');
  });

  it('calls the pair busy when a quorum says locked even though one of three servers is down', async () => {
    assert.equal(await sut(quorumFailure(['locked', 'locked', 'down'])), 'busy');
  });

  it('fails closed as unavailable when two of three servers are down and the third holds the pair', async () => {
    assert.equal(await sut(quorumFailure(['locked', 'down', 'down'])), 'unavailable');
  });

  it('calls it unavailable when locked votes alone do not make a quorum', async () => {
    assert.equal(await sut(quorumFailure(['locked', 'down', 'for'])), 'unavailable');
    assert.equal(await sut(quorumFailure(['locked', 'for', 'for', 'down', 'down'])), 'unavailable');
  });

  it('calls it unavailable when every server is unreachable', async () => {
    assert.equal(await sut(quorumFailure(['down'])), 'unavailable');
    assert.equal(await sut(quorumFailure(['down', 'down', 'down'])), 'unavailable');
  });

  it('calls any other error unavailable', async () => {
    assert.equal(await sut(new Error('Connection is closed.')), 'unavailable');
    assert.equal(await sut(new ExecutionError('no attempts', [])), 'unavailable');
    assert.equal(await sut('not even an error'), 'unavailable');
  });
});

describe(explainRedlockFailure.name, () => {
  const sut = explainRedlockFailure;

  it('says the lock is no longer ours when a quorum refused because of another value', async () => {
    assert.equal(
      await sut(quorumFailure(['locked', 'locked', 'for'])),
      'the lock is no longer ours (expired or taken)',
    );
  });

  it('names the servers that refused and why when Redis is the problem', async () => {
    assert.equal(
      await sut(quorumFailure(['down', 'down', 'for'])),
      "2 of 3 lock servers refused: Stream isn't writeable and enableOfflineQueue options is false",
    );
  });

  it('falls back to the error message for other errors', async () => {
    assert.equal(await sut(new Error('Command timed out')), 'Command timed out');
  });
});
