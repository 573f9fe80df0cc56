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

export interface KubeList<T extends KubeObject = KubeObject> {
  metadata: { resourceVersion: string };
  items: T[];
}

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
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
 * watches (newline-delimited JSON events). Enough for the kubelet and kube-proxy stand-ins.
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
  async find<T = any>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Strategic merge patch (lists with a merge key, such as pod conditions, merge by that key). */
  patchStatus(path: string, status: unknown): Promise<any> {
    return this.request('PATCH', `${path}/status`, { status }, 'application/strategic-merge-patch+json');
  }

  /**
   * Watches `path` (a list URL, query allowed) from `resourceVersion`, calling `onEvent` per event,
   * until the server ends the watch or `signal` aborts. Resolves then; rejects on a non-200 start.
   */
  watch(
    path: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const separator = path.includes('?') ? '&' : '?';
    const full = `${path}${separator}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}&timeoutSeconds=300`;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      const req = httpsRequest(
        {
          host: this.host,
          port: this.port,
          method: 'GET',
          path: full,
          agent: this.agent,
          signal,
          headers: { 'user-agent': this.userAgent },
        },
        (res) => {
          if (res.statusCode !== 200) {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => reject(new KubeApiError(res.statusCode ?? 0, text, `watch ${path}`)));
            return;
          }
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (line) onEvent(JSON.parse(line) as WatchEvent);
            }
          });
          res.on('end', () => resolve());
          res.on('error', () => resolve());
          res.on('aborted', () => resolve());
        },
      );
      req.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Handlers of an Informer: called for every change seen (after the first list, too). */
export interface InformerHandlers<T extends KubeObject> {
  onChange?(object: T): void;
  onDelete?(object: T): void;
}

const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ''}/${object.metadata.name}`;

/**
 * A cache of one list URL kept current by a watch (as client-go's informers do): lists, watches
 * from the list's resourceVersion, re-watches when the server closes the watch, and re-lists when
 * the version is too old (410 Gone).
 */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly listPath: string,
    private readonly handlers: InformerHandlers<T>,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Resolves once the first list is in the cache and its handlers ran. */
  async start(): Promise<void> {
    let resourceVersion = await this.relist();
    this.running = (async () => {
      while (!this.abort.signal.aborted) {
        let gone = false;
        try {
          await this.api.watch(
            this.listPath,
            resourceVersion,
            (event) => {
              if (event.type === 'ERROR') {
                if ((event.object as any).code === 410) gone = true;
                return;
              }
              resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
              if (event.type === 'BOOKMARK') return;
              this.apply(event.type, event.object as T);
            },
            this.abort.signal,
          );
        } catch (error) {
          if (this.abort.signal.aborted) break;
          gone = error instanceof KubeApiError && error.status === 410;
          if (!gone) {
            this.onError(error);
            await new Promise((done) => setTimeout(done, 500));
          }
        }
        if (gone && !this.abort.signal.aborted) {
          try {
            resourceVersion = await this.relist();
          } catch (error) {
            this.onError(error);
            await new Promise((done) => setTimeout(done, 500));
          }
        }
      }
    })();
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async relist(): Promise<string> {
    const list = await this.api.get<KubeList<T>>(this.listPath);
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(keyOf(item));
      this.apply('MODIFIED', item);
    }
    for (const [key, object] of this.objects) if (!seen.has(key)) this.apply('DELETED', object);
    return list.metadata.resourceVersion;
  }

  private apply(type: WatchEvent['type'], object: T): void {
    const key = keyOf(object);
    if (type === 'DELETED') {
      this.objects.delete(key);
      this.handlers.onDelete?.(object);
    } else {
      this.objects.set(key, object);
      this.handlers.onChange?.(object);
    }
  }
}
