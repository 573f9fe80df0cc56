import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredFresh, Incarnation, type ServerIdentity } from './incarnation.js';

const LEASE = 15_000;
const identity = (overrides: Partial<ServerIdentity> = {}): ServerIdentity => ({
  runId: 'run-a',
  uptimeMs: 3_600_000,
  dataset: 'set-1',
  datasetCreated: false,
  ...overrides,
});

describe(Incarnation.name, () => {
  it('never lets a server vote before it was identified', () => {
    const sut = new Incarnation(LEASE);
    assert.equal(sut.canVote(0), false);
    assert.equal(sut.datasetId, undefined);
    assert.equal(sut.quarantineLeftMs(0), Number.POSITIVE_INFINITY);
  });

  it('lets a server up for longer than a lease, with a known data set, vote at once', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity(), 1000);
    assert.equal(sut.canVote(1000), true);
    assert.equal(sut.datasetId, 'set-1');
  });

  it('keeps a server that started less than a lease ago out until a lease after its start', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity({ uptimeMs: 4000 }), 1000);
    assert.equal(sut.canVote(1000 + LEASE - 4000 - 1), false);
    assert.equal(sut.canVote(1000 + LEASE - 4000), true);
  });

  it('keeps a server out for a whole lease from the moment its data set is found new or wiped', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity({ uptimeMs: 3_600_000, datasetCreated: true, dataset: 'mine' }), 1000);
    assert.equal(sut.canVote(1000 + LEASE - 1), false);
    assert.equal(sut.canVote(1000 + LEASE), true);
  });

  it('keeps a server out for a whole lease when a reconnect finds another process, whatever its uptime', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity(), 0);
    sut.forget();
    assert.equal(sut.canVote(10), false, 'a closed connection votes for nothing');
    sut.observe(identity({ runId: 'run-b', uptimeMs: 3_600_000 }), 5000);
    assert.equal(sut.canVote(5000 + LEASE - 1), false);
    assert.equal(sut.canVote(5000 + LEASE), true);
  });

  it('lets a reconnect to the same process with the same data set vote again at once', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity({ uptimeMs: 20_000 }), 0);
    sut.forget();
    sut.observe(identity({ uptimeMs: 20_000 + 7000 }), 7000);
    assert.equal(sut.canVote(7000), true);
  });

  it('keeps a server out for a lease once the acquire script finds its data set changed without a reconnect', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity(), 0);
    sut.datasetChanged(2000);
    assert.equal(sut.canVote(2000), false);
    assert.equal(sut.datasetId, undefined, 'it must be identified again');
    sut.observe(identity({ dataset: 'set-2' }), 2005);
    assert.equal(sut.canVote(2000 + LEASE - 1), false);
    assert.equal(sut.canVote(2005 + LEASE), true);
  });

  it('never shortens a quarantine', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity({ uptimeMs: 0, datasetCreated: true }), 0);
    sut.forget();
    sut.observe(identity({ uptimeMs: 3_600_000 }), 100);
    assert.equal(sut.canVote(LEASE - 1), false);
  });

  it('lets a server declared fresh by whoever started it vote at once, on first sight only', () => {
    const sut = new Incarnation(LEASE);
    sut.observe(identity({ uptimeMs: 0, dataset: declaredFresh('run-a') }), 0);
    assert.equal(sut.canVote(0), true);

    const restarted = new Incarnation(LEASE);
    restarted.observe(identity({ uptimeMs: 0, dataset: declaredFresh('run-a') }), 0);
    restarted.forget();
    restarted.observe(identity({ runId: 'run-b', uptimeMs: 0, dataset: declaredFresh('run-b') }), 50);
    assert.equal(restarted.canVote(50 + LEASE - 1), false, 'a restart is never taken for fresh');

    const stale = new Incarnation(LEASE);
    stale.observe(identity({ runId: 'run-c', uptimeMs: 0, dataset: declaredFresh('run-a') }), 0);
    assert.equal(stale.canVote(LEASE - 1), false, 'a declaration of another process does not count');
  });
});
