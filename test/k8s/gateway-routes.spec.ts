import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { ensureTools, ofKind, renderOverlays, type RenderedOverlay, ROOT } from './rendered-manifests.js';
import { ingressRoute, type NginxDirective, nginxRoute, parseNginxConfig } from './routing.js';

/** Paths of every class the product serves, and their near misses. */
const SAMPLE_PATHS = [
  '/',
  '/main',
  '/main/',
  '/main/users',
  '/main/login/6f1c2b8e-0b7e-4a53-9b0e-2a8f3f1d9c11',
  '/mainly',
  '/stream',
  '/stream/',
  '/stream/6f1c2b8e-0b7e-4a53-9b0e-2a8f3f1d9c11/0d6c0c3a-5b1f-4a8e-8a3e-7d2b9c1e4f00',
  '/streams',
  '/metrics',
  '/metrics/',
  '/metrics/x',
  '/metricsx',
  '/health',
  '/health/live',
  '/health/ready',
  '/healthz',
  '/index/u/p',
  '/style.css',
  '/favicon.svg',
  '/js/chart.js',
];

describe('the local nginx gateway and the Kubernetes Ingresses', () => {
  let overlays: RenderedOverlay[] = [];
  let nginx: NginxDirective[];

  before(
    async () => {
      const tools = await ensureTools();
      overlays = await renderOverlays(tools, ['minikube', 'production']);
      const gateway = await import(pathToFileURL(path.join(ROOT, 'scripts/lib/gateway.mjs')).href);
      nginx = parseNginxConfig(
        gateway.gatewayConfig({
          dir: '/tmp/kubescaler-gateway',
          host: '127.0.0.1',
          port: 8080,
          mainUrls: ['http://127.0.0.1:3000'],
          streamUrls: ['http://127.0.0.1:3002', 'http://127.0.0.1:3003'],
        }),
      );
    },
    { timeout: 240_000 },
  );

  it('route every path the same way — same Service or the same refusal — with the same proxy directives', () => {
    for (const overlay of overlays) {
      const ingresses = ofKind(overlay, 'Ingress');
      const declared = [
        ...ingresses.flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.path as string))),
        ...nginx
          .find((d) => d.name === 'http')!
          .block!.find((d) => d.name === 'server')!
          .block!.filter((d) => d.name === 'location')
          .map((d) => d.args.at(-1)!),
      ];
      const paths = new Set([...SAMPLE_PATHS, ...declared.flatMap((p) => [p, `${p}x`, `${p.replace(/\/$/, '')}/x`])]);
      for (const urlPath of paths) {
        assert.deepEqual(
          nginxRoute(nginx, urlPath),
          ingressRoute(ingresses, urlPath),
          `overlays/${overlay.name}: ${urlPath} (nginx ↔ Ingress)`,
        );
      }
    }
  });

  it('agree on what the path classes are', () => {
    const route = (p: string) => nginxRoute(nginx, p);
    assert.equal(route('/main/users').to, 'main');
    assert.equal(route('/main').to, 'main');
    assert.equal(route('/mainly').to, 'stream');
    assert.equal(route('/health/live').to, 'denied');
    assert.equal(route('/metrics').to, 'denied');
    assert.equal(route('/').to, 'stream');
    const stream = route('/stream/a/b').directives!;
    assert.equal(stream.proxy_buffering, 'off');
    assert.ok(Number(stream.proxy_read_timeout) >= 3600);
    assert.equal(stream.proxy_request_buffering, 'off');
    assert.equal(route('/').directives!.proxy_read_timeout, '60', 'only /stream waits for hours');
  });
});
