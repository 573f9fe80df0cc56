import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';

/** The parts of a Kubernetes object every caller reads (the rest stays loosely typed on purpose). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    creationTimestamp?: string;
    [key: string]: unknown;
  };
  spec?: any;
  status?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** A non-2xx answer of the API server, with its Status body. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 500)}`);
  }
}

export interface KubeCredentials {
  /** API server URL, e.g. https://127.0.0.1:6443 */
  readonly server: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A small client of the Kubernetes API over HTTPS with a client certificate: JSON requests and
 * watches (newline-delimited JSON events). Enough for the run's own reads and waits.
 */
export class KubeApi {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly credentials: KubeCredentials,
    private readonly userAgent = 'kubescaler-local',
  ) {
    const url = new URL(credentials.server);
    this.host = url.hostname;
    this.port = Number(url.port || 443);
    this.agent = new Agent({
      ca: readFileSync(credentials.caFile),
      cert: readFileSync(credentials.certFile),
      key: readFileSync(credentials.keyFile),
      keepAlive: true,
      maxSockets: 16,
    });
  }

  /** One JSON request; rejects with a KubeApiError on a non-2xx answer. */
  async request<T = any>(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            'user-agent': this.userAgent,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new KubeApiError(status, text, `${method} ${path}`));
            const json = /json/.test(res.headers['content-type'] ?? '');
            resolve((json && text ? JSON.parse(text) : text) as T);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET that answers undefined for 404. */
  close(): void {
    this.agent.destroy();
  }
}
