import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from './kube-api.js';
import { isServing, selects } from './service-proxy.js';

const pod = (overrides: Partial<KubeObject['metadata']> = {}, status: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'stream-1', namespace: 'kubescaler', ...overrides },
  status: { podIP: '127.0.2.7', conditions: [{ type: 'Ready', status: 'True' }], ...status },
});

describe(isServing.name, () => {
  const sut = isServing;

  it('counts a Ready pod with an IP as a backend', () => {
    assert.equal(sut(pod()), true);
  });

  it('never sends new connections to a pod that is not Ready, has no IP yet, or is terminating', () => {
    assert.equal(sut(pod({}, { conditions: [{ type: 'Ready', status: 'False' }] })), false);
    assert.equal(sut(pod({}, { podIP: undefined })), false);
    assert.equal(sut(pod({ deletionTimestamp: '2026-01-01T00:00:00Z' })), false);
  });
});

describe(selects.name, () => {
  const sut = selects;

  it('matches labels that carry every pair of the selector, whatever else they carry', () => {
    assert.equal(sut({ app: 'stream' }, { app: 'stream', tier: 'sse' }), true);
    assert.equal(sut({ app: 'stream', tier: 'x' }, { app: 'stream' }), false);
    assert.equal(sut({ app: 'stream' }, undefined), false);
  });
});
