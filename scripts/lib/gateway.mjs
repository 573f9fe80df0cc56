// The local gateway: Debian's nginx configured like the Kubernetes Ingresses (k8s/base/apps/ingress.yaml).
// `/main` and `/main/*` go to main, `/metrics` and `/health` are refused with 403 as the
// `kubescaler-private` Ingress does, everything else goes to the stream replicas; `/stream/*` has
// the hour-long timeouts of `kubescaler-stream`. The routes and the tuning below are the single
// source of the generated nginx.conf; test/k8s/manifests.spec.ts checks that the rendered
// Ingresses route every path class the same way with the same directives.
import fs from 'node:fs/promises';
import path from 'node:path';

import { startNginx } from '../../libs/infra/nginx.mjs';

/**
 * nginx's own buffers, bounded so that a slow client's backpressure reaches the stream pod (which
 * then drops events instead of anything queueing stale ones). Kept in this one place.
 */
export const GATEWAY_TUNING = Object.freeze({
  /**
   * SO_SNDBUF of the listening socket, inherited by every client connection: a fixed send queue
   * (the kernel doubles the value) instead of one autotuned up to tcp_wmem's maximum (4 MiB).
   * 16k: at 64k a reader at half the stream rate found ≈ 170 KB (≈ 1.3 s of its stream) queued
   * here alone; 16k still carries a 2 Mbit/s stream to a loopback client with room to spare.
   */
  clientSndbuf: '16k',
  /**
   * SO_RCVBUF of every connection to an upstream (nginx ≥ 1.31.3's `proxy_socket_rcvbuf`; set
   * through a preload library for Debian's 1.22, see libs/infra/upstream-rcvbuf.c). nginx reads
   * from the pod only as fast as the client takes the bytes, so for a client slower than the
   * stream this queue stays full; autotuned, it grew to 250 KiB–1.8 MiB of stale events. A fixed
   * value (the kernel doubles it) also turns autotuning off.
   */
  upstreamRcvbuf: '16k',
  /** Directives of every proxied location (ingress-nginx annotations of the same name). */
  proxy: Object.freeze({
    // Unbuffered: nginx reads from the pod only as fast as the client takes the bytes, through one
    // buffer of proxy_buffer_size.
    proxy_buffering: 'off',
    proxy_buffer_size: '16k',
    // Unused while buffering is off, but nginx checks them against proxy_buffer_size; ingress-nginx
    // writes `proxy_buffers <proxy-buffers-number> <proxy-buffer-size>` the same way.
    proxy_buffers: '4 16k',
    // A refused or timed-out connection is retried on the next replica; nothing is retried once
    // a response has started (nginx never does), and never a non-idempotent request.
    proxy_next_upstream: 'error timeout',
    proxy_next_upstream_tries: '3',
    proxy_connect_timeout: '5s',
  }),
  /** On top of `proxy` for `/stream`: SSE responses live for hours. */
  stream: Object.freeze({
    proxy_request_buffering: 'off',
    proxy_read_timeout: '3600s',
    proxy_send_timeout: '3600s',
  }),
});

/**
 * Path prefixes (matched as Ingress `pathType: Prefix` matches: whole path elements, longest
 * wins) and where each goes: an upstream, or refused.
 */
export const GATEWAY_ROUTES = Object.freeze([
  { path: '/main', upstream: 'main' },
  { path: '/stream', upstream: 'stream', stream: true },
  { path: '/metrics', deny: true },
  { path: '/health', deny: true },
  { path: '/', upstream: 'stream' },
]);

/**
 * What nginx answers itself — a refused path, a request it cannot parse or will not take, an
 * upstream that is down — in the apps' error contract (libs/errors' catalog: `{statusCode, code,
 * message}`, the code's own status), never nginx's HTML pages. `from`: the nginx statuses each
 * answers (494 is nginx's "request header too large", answered 431 as the apps do). The apps'
 * own error answers pass through untouched (`proxy_intercept_errors` stays off).
 */
export const GATEWAY_ERRORS = Object.freeze([
  { status: 400, code: 'BAD_REQUEST', message: 'Bad request: not valid HTTP, or no Host header', from: [400] },
  { status: 403, code: 'FORBIDDEN', message: 'This path is not served through the gateway', from: [403] },
  { status: 404, code: 'ROUTE_NOT_FOUND', message: 'No such route', from: [404] },
  { status: 405, code: 'METHOD_NOT_ALLOWED', message: 'Method not allowed', from: [405] },
  { status: 408, code: 'REQUEST_TIMEOUT', message: 'The request was not received in time', from: [408] },
  { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large (at most 1 MiB)', from: [413] },
  { status: 414, code: 'URI_TOO_LONG', message: 'The request URI is too long', from: [414] },
  { status: 431, code: 'HEADERS_TOO_LARGE', message: 'The request headers are too large', from: [494] },
  { status: 500, code: 'INTERNAL', message: 'Internal server error', from: [500] },
  { status: 501, code: 'NOT_IMPLEMENTED', message: 'Not implemented', from: [501] },
  { status: 502, code: 'BAD_GATEWAY', message: 'The service behind the gateway did not answer', from: [502] },
  { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'Service unavailable', from: [503], retryAfterSeconds: 1 },
  {
    status: 504,
    code: 'GATEWAY_TIMEOUT',
    message: 'The service behind the gateway did not answer in time',
    from: [504],
  },
]);

/** Where the gateway's error answers live: internal locations, which a client asking for them gets 404 from. */
export const GATEWAY_ERROR_PREFIX = '/_kubescaler/error/';

/**
 * The server-level lines that answer GATEWAY_ERRORS: an `error_page` per status and an internal
 * location per answer. Internal URI locations, not named ones (`@x`): nginx cannot redirect a
 * request whose request line did not parse to a named location (it answers 500 instead).
 */
function errorPages(errors = GATEWAY_ERRORS) {
  return errors.flatMap(({ status, code, message, from, retryAfterSeconds }) => {
    const body = JSON.stringify({ statusCode: status, code, message });
    if (/['$\\]/.test(body)) throw new Error(`gateway error ${code}: its text cannot hold ' $ or \\`);
    return [
      ...from.map(
        (nginxStatus) =>
          `    error_page ${nginxStatus} ${nginxStatus === status ? '' : `=${status} `}${GATEWAY_ERROR_PREFIX}${status};`,
      ),
      `    location = ${GATEWAY_ERROR_PREFIX}${status} {`,
      '      internal;',
      '      default_type "application/json; charset=utf-8";',
      ...(retryAfterSeconds ? [`      add_header Retry-After ${retryAfterSeconds} always;`] : []),
      `      return ${status} '${body}';`,
      '    }',
    ];
  });
}

/** Request headers every upstream sees (as ingress-nginx sets them); responses never carry them. */
const FORWARDED_HEADERS = [
  ['Host', '$http_host'],
  ['X-Request-ID', '$request_id'],
  ['X-Real-IP', '$remote_addr'],
  ['X-Forwarded-For', '$remote_addr'],
  ['X-Forwarded-Host', '$host'],
  ['X-Forwarded-Port', '$server_port'],
  ['X-Forwarded-Proto', '$scheme'],
  // Upstream keep-alive: HTTP/1.1 without `Connection: close`.
  ['Connection', '""'],
];

/** nginx's size syntax (`16k`, `1m`, `4096`) → bytes. */
export function nginxSize(size) {
  const match = /^(\d+)([km]?)$/i.exec(String(size));
  if (!match) throw new Error(`not an nginx size: ${size}`);
  return Number(match[1]) * { '': 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()];
}

/** `http://127.0.0.1:3000` → `127.0.0.1:3000`. */
const hostPort = (url) => new URL(url).host;

/**
 * The location blocks of one route: `{path, exact?, deny?, upstream?, directives?}` (directives
 * default to the tuning's, with its `stream` ones where `route.stream`).
 */
function locations(route, tuning) {
  const proxy = route.directives ?? { ...tuning.proxy, ...(route.stream ? tuning.stream : {}) };
  const directives = route.deny
    ? ['deny all;']
    : [
        // HTTP/1.0 may leave Host out; nginx would then forward an empty one. Refused instead (400).
        // Here rather than in the server block, whose rewrite rules run again for the error answer.
        'if ($http_host = "") { return 400; }',
        `proxy_pass http://kubescaler_${route.upstream};`,
        ...Object.entries(proxy).map(([name, value]) => `${name} ${value};`),
      ];
  const block = (match) => [`    location ${match} {`, ...directives.map((d) => `      ${d}`), '    }'];
  if (route.exact) return block(`= ${route.path}`);
  // A Prefix path `/x` matches `/x` itself and everything under `/x/`, never `/xy`.
  return route.path === '/' ? block('/') : [...block(`= ${route.path}`), ...block(`${route.path}/`)];
}

/**
 * The nginx.conf of a gateway listening on `host:port` in front of `mainUrls` and `streamUrls`,
 * with every file it writes under `dir`. `tuning` replaces GATEWAY_TUNING (the benchmark's baseline).
 * `routes` and `upstreams` (`[{name, urls, keepalive}]`) replace the gateway's own routes and its
 * two upstreams (the local cluster's ingress, whose routes come from the Ingress objects).
 */
export function gatewayConfig({
  dir,
  host,
  port,
  mainUrls = [],
  streamUrls = [],
  tuning = GATEWAY_TUNING,
  routes = GATEWAY_ROUTES,
  // No idle connections kept to the stream pods: a connection that carried a fast stream has a
  // receive buffer the kernel autotuned to megabytes, and a slow reader given it next would get
  // a backlog of that size with no drop at the pod (measured: ages 9 s → 23 s, 0 gaps, in 40 s).
  upstreams = [
    { name: 'main', urls: mainUrls, keepalive: 16 },
    { name: 'stream', urls: streamUrls, keepalive: 0 },
  ],
}) {
  if (upstreams.some((u) => u.urls.length === 0)) throw new Error('every upstream of the gateway needs a server');
  const file = (name) => path.join(dir, name);
  const upstream = (name, urls, keepalive) => [
    `  upstream kubescaler_${name} {`,
    // One failure takes a replica out for 10 s, so a dead pod costs one retried connect, not every other request.
    ...urls.map((url) => `    server ${hostPort(url)} max_fails=1 fail_timeout=10s;`),
    ...(keepalive > 0 ? [`    keepalive ${keepalive};`] : []),
    '  }',
  ];
  return `${[
    '# Generated by scripts/lib/gateway.mjs on every start; edit that file, not this one.',
    'daemon off;',
    'worker_processes 1;',
    'worker_rlimit_nofile 16384;',
    `pid ${file('nginx.pid')};`,
    // Only nginx's own failures: lines at `error` level quote the request line, token and all.
    // Upstream failures and retries show in the access log ($upstream_addr, $upstream_status).
    `error_log ${file('error.log')} crit;`,
    'events {',
    '  worker_connections 8192;',
    '}',
    'http {',
    '  server_tokens off;',
    '  default_type application/octet-stream;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${file(`temp/${kind}`)};`,
    ),
    // Request bodies stay in memory (main's JSON bodies are ≤ 1 MiB).
    '  client_max_body_size 1m;',
    '  client_body_buffer_size 1m;',
    '  keepalive_timeout 75s;',
    '',
    // The access log never holds a token: `?access_token=` (any case, after `&` or `;`) is logged
    // as [redacted]; a query with several of them, or with a percent-encoded parameter name (which
    // could decode to one), is logged as [redacted] whole. The path is logged as the client sent
    // it, up to any `;` parameters (`/x;access_token=…`), which are logged as [redacted].
    '  map $request_uri $kubescaler_log_path {',
    '    "~^([^?;]*);" "$1;[redacted]";',
    '    "~^([^?]*)" $1;',
    '  }',
    '  map $args $kubescaler_log_args {',
    '    default $args;',
    '    "~(^|[&;])[^=&;]*%" "[redacted]";',
    '    "~*(^|[&;])access_token=.*[&;]access_token(=|[&;]|$)" "[redacted]";',
    '    "~*^(.*[&;])?access_token=[^&;]*([&;].*)?$" "$1access_token=[redacted]$2";',
    '  }',
    '  log_format kubescaler \'$remote_addr [$time_iso8601] "$request_method $kubescaler_log_path$is_args$kubescaler_log_args $server_protocol" \'',
    '                        \'$status $body_bytes_sent $request_time "$upstream_addr" "$upstream_status" "$http_user_agent"\';',
    `  access_log ${file('access.log')} kubescaler;`,
    '',
    ...upstreams.flatMap((u) => upstream(u.name, u.urls, u.keepalive)),
    '',
    '  server {',
    `    listen ${host}:${port}${tuning.clientSndbuf ? ` sndbuf=${tuning.clientSndbuf}` : ''} backlog=4096;`,
    '    proxy_http_version 1.1;',
    ...FORWARDED_HEADERS.map(([name, value]) => `    proxy_set_header ${name} ${value};`),
    ...errorPages(),
    ...routes.flatMap((route) => locations(route, tuning)),
    '  }',
    '}',
  ].join('\n')}\n`;
}

/**
 * Starts the gateway on `host:port` (working directory `.cache/nginx/<name>`: nginx.conf,
 * access.log, error.log); resolves to `{url, pid, dir, accessLog, errorLog, close()}`.
 */
export async function startGateway({
  root,
  name,
  host = '127.0.0.1',
  port,
  mainUrls,
  streamUrls,
  log = () => {},
  removeOnClose = false,
  tuning,
}) {
  const dir = path.join(root, '.cache', 'nginx', name);
  await fs.rm(dir, { recursive: true, force: true });
  const { upstreamRcvbuf } = tuning ?? GATEWAY_TUNING;
  const nginx = await startNginx({
    dir,
    host,
    port,
    label: `gateway '${name}'`,
    log,
    upstreamRcvbuf: upstreamRcvbuf
      ? { bytes: nginxSize(upstreamRcvbuf), cacheDir: path.join(root, '.cache', 'nginx', 'upstream-rcvbuf') }
      : undefined,
    config: (workDir) => gatewayConfig({ dir: workDir, host, port, mainUrls, streamUrls, tuning }),
  });
  const urlHost = host === '0.0.0.0' ? 'localhost' : host;
  return {
    url: `http://${urlHost}:${port}`,
    pid: nginx.pid,
    dir,
    accessLog: path.join(dir, 'access.log'),
    errorLog: nginx.errorLog,
    close: async () => {
      await nginx.stop();
      if (removeOnClose) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
