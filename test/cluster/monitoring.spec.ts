import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { localAdapterConfig, localPrometheusConfig } from './monitoring.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const repoFile = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');
const configMap = (name: string, data: Record<string, string>) => ({
  metadata: { name, namespace: 'kubescaler' },
  data,
});
const access = { server: 'https://127.0.0.1:47002', caFile: '/run/pki/ca.crt', tokenFile: '/run/prometheus.token' };

describe(localPrometheusConfig.name, () => {
  const manifests = repoFile('k8s/base/monitoring/prometheus.yml');
  const sut = () =>
    parse(localPrometheusConfig(configMap('prometheus-config', { 'prometheus.yml': manifests }), access));

  it('points kubernetes_sd at the API server with its CA and the ServiceAccount token a pod would mount', () => {
    const [sd] = sut().scrape_configs[0].kubernetes_sd_configs;
    assert.equal(sd.api_server, access.server);
    assert.equal(sd.tls_config.ca_file, access.caFile);
    assert.deepEqual(sd.authorization, { type: 'Bearer', credentials_file: access.tokenFile });
  });

  it("replaces own_namespace with the namespace the pod would run in (the ConfigMap's)", () => {
    const [sd] = sut().scrape_configs[0].kubernetes_sd_configs;
    assert.deepEqual(sd.namespaces, { names: ['kubescaler'] });
  });

  it("keeps everything else of the manifests' configuration exactly: globals, jobs, roles and every relabelling", () => {
    const original = parse(manifests);
    const local = sut();
    assert.deepEqual(local.global, original.global);
    assert.equal(local.scrape_configs.length, original.scrape_configs.length);
    for (const [index, job] of original.scrape_configs.entries()) {
      const { kubernetes_sd_configs: localSd, ...localRest } = local.scrape_configs[index];
      const { kubernetes_sd_configs: sd, ...rest } = job;
      assert.deepEqual(localRest, rest);
      assert.deepEqual(
        localSd.map((c: any) => c.role),
        sd.map((c: any) => c.role),
      );
    }
  });
});

describe(localAdapterConfig.name, () => {
  const rules = repoFile('k8s/base/monitoring/prometheus-adapter-config.yaml');
  const resourceRules = repoFile('k8s/overlays/local/resource-rules.yaml');
  const sut = () =>
    parse(
      localAdapterConfig(
        configMap('prometheus-adapter-config', { 'config.yaml': rules }),
        configMap('prometheus-adapter-resource-rules', { 'resource-rules.yaml': resourceRules }),
      ),
    );

  it("serves the manifests' rules unchanged and adds the local resource rules for metrics.k8s.io", () => {
    const config = sut();
    assert.deepEqual(config.rules, parse(rules).rules);
    assert.deepEqual(config.resourceRules, parse(resourceRules).resourceRules);
  });

  it("maps CPU from the apps' own process_cpu_seconds_total, per pod, with the app naming the container", () => {
    const { cpu, window } = sut().resourceRules;
    assert.match(cpu.containerQuery, /rate\(process_cpu_seconds_total\{<<\.LabelMatchers>>\}\[30s\]\)/);
    assert.equal(window, '30s');
    assert.equal(cpu.containerLabel, 'app');
    assert.deepEqual(cpu.resources.overrides.pod, { resource: 'pod' });
  });

  it('refuses ConfigMaps without rules', () => {
    assert.throws(
      () =>
        localAdapterConfig(
          configMap('a', { 'config.yaml': 'rules: []' }),
          configMap('b', { 'resource-rules.yaml': resourceRules }),
        ),
      /no rules/,
    );
  });
});
