import type { K8sObject } from './rendered-manifests.js';

/** A directive of an nginx configuration, with its block if it has one. */
export interface NginxDirective {
  readonly name: string;
  readonly args: string[];
  readonly block?: NginxDirective[];
}

/** Parses nginx.conf syntax: directives `name args…;`, blocks `name args… { … }`, quotes, comments. */
export function parseNginxConfig(text: string): NginxDirective[] {
  const tokens: string[] = [];
  const pattern = /#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)/g;
  for (const match of text.matchAll(pattern)) {
    if (match[0].startsWith('#')) continue;
    tokens.push(match[1] ?? match[2] ?? match[3] ?? match[4]!);
  }
  let at = 0;
  const parseBlock = (closing: boolean): NginxDirective[] => {
    const directives: NginxDirective[] = [];
    while (at < tokens.length) {
      if (tokens[at] === '}') {
        if (!closing) throw new Error('unbalanced }');
        at++;
        return directives;
      }
      const words: string[] = [];
      while (at < tokens.length && !['{', ';', '}'].includes(tokens[at]!)) words.push(tokens[at++]!);
      const end = tokens[at++];
      if (words.length === 0) throw new Error(`empty directive before ${end}`);
      const [name, ...args] = words as [string, ...string[]];
      if (end === ';') directives.push({ name, args });
      else if (end === '{') directives.push({ name, args, block: parseBlock(true) });
      else throw new Error(`directive ${name} is not terminated`);
    }
    if (closing) throw new Error('missing }');
    return directives;
  };
  return parseBlock(false);
}

/** How a gateway treats a request path: where it goes and the proxy directives in force. */
export interface RouteDecision {
  /** A Service name (`main`, `stream`) or `denied`. */
  readonly to: string;
  /** Effective directive values, normalised (`3600s` → `3600`); absent for a denied path. */
  readonly directives?: Record<string, string>;
}

/** The directives compared, each with nginx's built-in default and the ingress-nginx annotation that sets it. */
export const COMPARED_DIRECTIVES: ReadonlyArray<{
  nginx: string;
  nginxDefault: string;
  annotation: string;
  ingressDefault: string;
}> = [
  { nginx: 'proxy_buffering', nginxDefault: 'on', annotation: 'proxy-buffering', ingressDefault: 'off' },
  { nginx: 'proxy_buffer_size', nginxDefault: '4k', annotation: 'proxy-buffer-size', ingressDefault: '4k' },
  // ingress-nginx writes `proxy_buffers <proxy-buffers-number> <proxy-buffer-size>`.
  { nginx: 'proxy_buffers', nginxDefault: '8 4k', annotation: 'proxy-buffers-number', ingressDefault: '4' },
  { nginx: 'proxy_request_buffering', nginxDefault: 'on', annotation: 'proxy-request-buffering', ingressDefault: 'on' },
  { nginx: 'proxy_read_timeout', nginxDefault: '60', annotation: 'proxy-read-timeout', ingressDefault: '60' },
  { nginx: 'proxy_send_timeout', nginxDefault: '60', annotation: 'proxy-send-timeout', ingressDefault: '60' },
  { nginx: 'proxy_connect_timeout', nginxDefault: '60', annotation: 'proxy-connect-timeout', ingressDefault: '5' },
  {
    nginx: 'proxy_next_upstream',
    nginxDefault: 'error timeout',
    annotation: 'proxy-next-upstream',
    ingressDefault: 'error timeout',
  },
  {
    nginx: 'proxy_next_upstream_tries',
    nginxDefault: '0',
    annotation: 'proxy-next-upstream-tries',
    ingressDefault: '3',
  },
  { nginx: 'proxy_http_version', nginxDefault: '1.0', annotation: 'proxy-http-version', ingressDefault: '1.1' },
  { nginx: 'client_max_body_size', nginxDefault: '1m', annotation: 'proxy-body-size', ingressDefault: '1m' },
];

/** `3600s` and `3600` are the same timeout. */
const normalise = (value: string): string => value.replace(/^(\d+)s$/, '$1');

function only(directives: NginxDirective[], name: string): NginxDirective {
  const found = directives.filter((d) => d.name === name);
  if (found.length !== 1) throw new Error(`expected one ${name} block, found ${found.length}`);
  return found[0]!;
}

/**
 * Whether a location is one a client's path can reach: `internal` ones (the gateway's error
 * answers) are reached only by `error_page`; asked for directly they answer 404, as the stream
 * app does for a path it does not serve, so they are left out of the comparison.
 */
export function isRoutedLocation(directive: NginxDirective): boolean {
  return directive.name === 'location' && !directive.block?.some((d) => d.name === 'internal');
}

/**
 * How nginx itself routes `path` under the one `server` of `config`: an exact location first,
 * else the longest prefix location (regex locations are refused: there must be none), with each
 * compared directive inherited from server and http as nginx does.
 */
export function nginxRoute(config: NginxDirective[], path: string): RouteDecision {
  const http = only(config, 'http').block!;
  const server = only(http, 'server').block!;
  const upstreams = new Map(
    http.filter((d) => d.name === 'upstream').map((d) => [d.args[0]!, d.args[0]!.replace(/^kubescaler_/, '')]),
  );
  const locations = server.filter(isRoutedLocation);
  for (const location of locations) {
    if (location.args.length > 2 || (location.args.length === 2 && location.args[0] !== '=')) {
      throw new Error(`location ${location.args.join(' ')}: only exact and prefix locations are modelled`);
    }
  }
  const exact = locations.find((l) => l.args[0] === '=' && l.args[1] === path);
  const prefix = locations
    .filter((l) => l.args.length === 1 && path.startsWith(l.args[0]!))
    .sort((a, b) => b.args[0]!.length - a.args[0]!.length)[0];
  const location = exact ?? prefix;
  if (!location) throw new Error(`no location matches ${path}`);
  const body = location.block!;
  if (body.some((d) => d.name === 'deny' && d.args[0] === 'all')) return { to: 'denied' };
  const pass = body.find((d) => d.name === 'proxy_pass');
  if (!pass) throw new Error(`location ${location.args.join(' ')} neither proxies nor denies`);
  const upstream = upstreams.get(new URL(pass.args[0]!).host);
  if (!upstream) throw new Error(`proxy_pass ${pass.args[0]} names no upstream`);
  const value = (name: string, fallback: string) => {
    for (const level of [body, server, http]) {
      const found = level.find((d) => d.name === name);
      if (found) return normalise(found.args.join(' '));
    }
    return fallback;
  };
  return {
    to: upstream,
    directives: Object.fromEntries(COMPARED_DIRECTIVES.map((d) => [d.nginx, value(d.nginx, d.nginxDefault)])),
  };
}

/** `pathType: Prefix` as Kubernetes defines it: whole path elements (`/main` matches `/main/x`, not `/mainx`). */
function prefixMatches(prefix: string, path: string): boolean {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' || path === trimmed || path.startsWith(`${trimmed}/`);
}

/**
 * How ingress-nginx routes `path` given every Ingress of the class (merged per host, as it does):
 * an Exact path first, else the longest matching Prefix path; the winning Ingress's annotations
 * (ingress-nginx defaults where absent) give the directives; a denylist of every address denies.
 */
export function ingressRoute(ingresses: K8sObject[], path: string): RouteDecision {
  const candidates = ingresses.flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule: K8sObject) =>
      rule.http.paths.map((p: K8sObject) => ({ ingress, path: p.path as string, type: p.pathType, p })),
    ),
  );
  const exact = candidates.find((c) => c.type === 'Exact' && c.path === path);
  const prefix = candidates
    .filter((c) => c.type === 'Prefix' && prefixMatches(c.path, path))
    .sort((a, b) => b.path.length - a.path.length)[0];
  const winner = exact ?? prefix;
  if (!winner) throw new Error(`no Ingress path matches ${path}`);
  const annotations: Record<string, string> = winner.ingress.metadata.annotations ?? {};
  const annotation = (name: string) => annotations[`nginx.ingress.kubernetes.io/${name}`];
  const denylist = (annotation('denylist-source-range') ?? '').split(',').map((s) => s.trim());
  if (denylist.includes('0.0.0.0/0') && denylist.includes('::/0')) return { to: 'denied' };
  const directives = Object.fromEntries(
    COMPARED_DIRECTIVES.map((d) => [d.nginx, normalise(annotation(d.annotation) ?? d.ingressDefault)]),
  );
  directives.proxy_buffers = `${directives.proxy_buffers} ${directives.proxy_buffer_size}`;
  return { to: winner.p.backend.service.name, directives };
}
