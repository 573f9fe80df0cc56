import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { releaseFrameworkListeners } from './release-framework.js';

describe(releaseFrameworkListeners.name, () => {
  it("drops Fastify's onResponse listeners of a hijacked response and keeps Node's, so the response still ends", async () => {
    const app = Fastify();
    const responses: string[] = [];
    app.addHook('onResponse', (req, _reply, done) => {
      responses.push(req.url);
      done();
    });
    const counts: { finishBefore: number; finishAfter: number; removed: number }[] = [];
    app.get('/stream', (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      const finishBefore = res.listenerCount('finish');
      const removed = releaseFrameworkListeners(res);
      counts.push({ finishBefore, finishAfter: res.listenerCount('finish'), removed });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: x\n\n');
      void req;
    });
    app.get('/plain', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const get = (path: string) =>
        new Promise<string>((resolve, reject) => {
          request({ host: '127.0.0.1', port, path }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve(body));
          })
            .on('error', reject)
            .end();
        });
      assert.equal(await get('/stream'), 'data: x\n\n');
      assert.equal(await get('/plain'), 'ok');
      assert.deepEqual(counts, [
        { finishBefore: counts[0]!.finishBefore, finishAfter: counts[0]!.finishBefore - 1, removed: 2 },
      ]);
      assert.ok(counts[0]!.finishAfter >= 1, "Node's own finish listener stays");
      // The hijacked stream is no longer timed as a request; the plain route still is.
      assert.deepEqual(responses, ['/plain']);
    } finally {
      await app.close();
    }
  });
});
