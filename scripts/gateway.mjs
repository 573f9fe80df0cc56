// The local gateway: routes exactly like the Kubernetes Ingress — `/main` and `/main/*` to main,
// everything else round robin over the stream replicas — and passes SSE through unbuffered with
// no read timeout, so a slow browser's backpressure reaches the stream pod as it does behind nginx
// with proxy buffering off. Run alone: GATEWAY_PORT=8080 MAIN_URL=… STREAM_URLS=…,… node scripts/gateway.mjs
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardedHeaders(headers, request) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  const client = request.socket.remoteAddress ?? '';
  out['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${client}` : client;
  out['x-forwarded-host'] = headers.host ?? '';
  out['x-forwarded-proto'] = 'http';
  return out;
}

/** Starts the gateway; resolves to `{ url, close() }`. */
export async function startGateway({ port, host = '0.0.0.0', mainUrl, streamUrls }) {
  if (!mainUrl || streamUrls.length === 0) throw new Error('gateway needs MAIN_URL and at least one STREAM_URLS entry');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const main = new URL(mainUrl);
  const streams = streamUrls.map((url) => new URL(url));
  let next = 0;

  const server = http.createServer((request, response) => {
    const path = request.url ?? '/';
    const target =
      path === '/main' || path.startsWith('/main/') || path.startsWith('/main?')
        ? main
        : streams[next++ % streams.length];
    const upstream = http.request({
      agent,
      host: target.hostname,
      port: target.port,
      method: request.method,
      path,
      headers: forwardedHeaders(request.headers, request),
    });
    upstream.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, forwardedHeaders(answer.headers, request));
      response.flushHeaders();
      answer.pipe(response);
    });
    upstream.on('error', () => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response.writeHead(502, { 'content-type': 'application/json; charset=utf-8' });
      response.end(
        JSON.stringify({ statusCode: 502, code: 'BAD_GATEWAY', message: `No answer from ${target.origin}` }),
      );
    });
    // The browser leaving must reach the stream pod at once: that is what releases the pair lock.
    response.on('close', () => upstream.destroy());
    request.pipe(upstream);
  });
  // SSE responses live for hours: no request, header or idle timeout on either side.
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 75_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://localhost:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const gateway = await startGateway({
    port: Number(process.env.GATEWAY_PORT ?? 8080),
    host: process.env.GATEWAY_HOST ?? '0.0.0.0',
    mainUrl: process.env.MAIN_URL,
    streamUrls: (process.env.STREAM_URLS ?? '').split(',').filter(Boolean),
  });
  console.log(`gateway listening on ${gateway.url}`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => gateway.close().then(() => process.exit(0)));
}
