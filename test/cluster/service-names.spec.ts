import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteServiceAddresses, serviceOfHost } from './service-names.js';

describe(serviceOfHost.name, () => {
  const sut = serviceOfHost;

  it('resolves a short name in the pod namespace and qualified names in theirs, as the pod DNS search path does', () => {
    assert.deepEqual(sut('base', 'kubescaler'), { namespace: 'kubescaler', name: 'base' });
    assert.deepEqual(sut('redis-a.other', 'kubescaler'), { namespace: 'other', name: 'redis-a' });
    assert.deepEqual(sut('base.kubescaler.svc', 'x'), { namespace: 'kubescaler', name: 'base' });
    assert.deepEqual(sut('base.kubescaler.svc.cluster.local', 'x'), { namespace: 'kubescaler', name: 'base' });
  });

  it('is undefined for names outside the cluster domain', () => {
    assert.equal(sut('example.com.org', 'kubescaler'), undefined);
    assert.equal(sut('base.kubescaler.svc.example', 'kubescaler'), undefined);
  });
});

describe(rewriteServiceAddresses.name, () => {
  const local: Record<string, string> = {
    'kubescaler/base:3001': '127.0.0.1:41001',
    'kubescaler/cassandra:9042': '127.0.0.1:41002',
    'kubescaler/redis-a:6379': '127.0.0.1:41003',
  };
  const sut = (value: string) =>
    rewriteServiceAddresses(value, 'kubescaler', (s, port) => local[`${s.namespace}/${s.name}:${port}`]);

  it('maps host:port of a Service in URLs, host:port lists and plain values to its local forwarder', () => {
    assert.equal(sut('http://base:3001'), 'http://127.0.0.1:41001');
    assert.equal(sut('cassandra:9042'), '127.0.0.1:41002');
    assert.equal(
      sut('redis://redis-a:6379,redis://redis-a.kubescaler.svc.cluster.local:6379'),
      'redis://127.0.0.1:41003,redis://127.0.0.1:41003',
    );
  });

  it('leaves alone hosts that are no Service, ports the Service does not have, and text without a port', () => {
    assert.equal(sut('http://example.org:3001/x'), 'http://example.org:3001/x');
    assert.equal(sut('http://base:3002'), 'http://base:3002');
    assert.equal(sut('base'), 'base');
    assert.equal(sut('datacenter1'), 'datacenter1');
    assert.equal(sut('http://127.0.0.1:3001'), 'http://127.0.0.1:3001');
  });
});
