import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';

/** One line of the gateway's access log (`log_format kubescaler`, scripts/lib/gateway.mjs). */
export interface AccessLogEntry {
  readonly line: string;
  readonly method: string;
  /** Path and query as logged (the path as sent, the query with tokens redacted). */
  readonly target: string;
  readonly status: number;
  /** Every upstream tried, in order (`-` when none was: a refused path). */
  readonly upstreams: string[];
  readonly upstreamStatuses: string[];
  readonly userAgent: string;
}

const LINE = /^\S+ \[[^\]]+\] "(\S+) (\S+) [^"]+" (\d{3}) \d+ \S+ "([^"]*)" "([^"]*)" "([^"]*)"$/;

/** Every line of the access log at `file`, parsed; fails on a line that does not parse. */
export function readAccessLog(file: string): AccessLogEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = LINE.exec(line);
      if (!match) throw new Error(`unparsed access log line: ${line}`);
      const [, method, target, status, upstreams, statuses, userAgent] = match as unknown as string[];
      return {
        line,
        method: method!,
        target: target!,
        status: Number(status),
        upstreams: upstreams!.split(/, | : /),
        upstreamStatuses: statuses!.split(/, | : /),
        userAgent: userAgent!,
      };
    });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `path` exactly as written — no URL normalisation, so `//x`, `/a/../b` and `%6d` reach the
 * server as they are (fetch would resolve them first).
 */
export function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port: Number(port), path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
