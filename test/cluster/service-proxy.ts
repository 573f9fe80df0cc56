import { connect, createServer, type Server, type Socket } from 'node:net';
import { Informer, type KubeApi, type KubeObject } from './kube-api.js';
import { resolvePort } from './pod-spec.js';
import type { ServiceRef } from './service-names.js';

/** One Service port and the local address that stands for it. */
export interface ServiceEndpoint {
  readonly namespace: string;
  readonly name: string;
  readonly portName: string | undefined;
  readonly port: number;
  /** `127.0.0.1:<port>` of its forwarder. */
  readonly local: string;
}

interface Forwarder {
  readonly endpoint: ServiceEndpoint;
  readonly server: Server;
  next: number;
}

/** A pod counts as a Service backend when it is Ready and not terminating, as for kube-proxy. */
export function isServing(pod: KubeObject): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    Boolean(pod.status?.podIP) &&
    (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Whether `labels` carry every pair of a Service `selector`. */
export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/**
 * The kube-proxy stand-in: every port of every ClusterIP Service gets a TCP forwarder on
 * 127.0.0.1, which hands each new connection to the next serving pod (round robin) on the
 * Service's target port. Pod IPs here are loopback addresses, which EndpointSlices may not hold,
 * so the backends come from the pods themselves (selector, Ready, not terminating). A Service
 * without a selector forwards to the address `external` names for it (the local Cassandra and Redis).
 */
export class ServiceProxy {
  private readonly forwarders = new Map<string, Forwarder[]>();
  private readonly sockets = new Set<Socket>();
  private readonly services: Informer;
  private readonly pods: Informer;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    api: KubeApi,
    private readonly external: Readonly<Record<string, string>>,
    private readonly log: (line: string) => void,
  ) {
    const onError = (error: unknown) => log(`service proxy watch: ${String(error)}`);
    this.services = new Informer(
      api,
      '/api/v1/services',
      {
        onChange: (service) => this.serialize(() => this.sync(service)),
        onDelete: (service) => this.serialize(() => this.remove(service)),
      },
      onError,
    );
    this.pods = new Informer(api, '/api/v1/pods', {}, onError);
  }

  async start(): Promise<void> {
    await this.pods.start();
    await this.services.start();
    await this.pending;
  }

  /** The local address of a Service port, if the Service exists and is forwarded. */
  resolve(service: ServiceRef, port: number): string | undefined {
    return this.forwarders
      .get(`${service.namespace}/${service.name}`)
      ?.find((forwarder) => forwarder.endpoint.port === port)?.endpoint.local;
  }

  /** Every forwarded Service port. */
  endpoints(): ServiceEndpoint[] {
    return [...this.forwarders.values()].flat().map((forwarder) => forwarder.endpoint);
  }

  /** Serving pods' `ip:port` behind a Service port, in round-robin order. */
  backends(service: KubeObject, servicePort: any): string[] {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    const selector = service.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) {
      const address = this.external[key];
      return address ? [address] : [];
    }
    const target = servicePort.targetPort ?? servicePort.port;
    const out: string[] = [];
    for (const pod of this.pods.list()) {
      if (pod.metadata.namespace !== service.metadata.namespace || !selects(selector, pod.metadata.labels)) continue;
      if (!isServing(pod)) continue;
      const port = this.podPort(pod, target);
      if (port !== undefined) out.push(`${pod.status.podIP}:${port}`);
    }
    return out.sort();
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.pods.stop()]);
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(
      [...this.forwarders.values()].flat().map((f) => new Promise<void>((done) => f.server.close(() => done()))),
    );
    this.forwarders.clear();
  }

  private serialize(task: () => Promise<void>): void {
    this.pending = this.pending.then(task).catch((error) => this.log(`service proxy: ${String(error)}`));
  }

  private podPort(pod: KubeObject, target: number | string): number | undefined {
    if (typeof target === 'number') return target;
    for (const container of pod.spec?.containers ?? []) {
      try {
        return resolvePort(container, target);
      } catch {
        // not this container's port
      }
    }
    return undefined;
  }

  private async sync(service: KubeObject): Promise<void> {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    if (this.forwarders.has(key) || service.spec?.type === 'ExternalName') return;
    const forwarders: Forwarder[] = [];
    for (const servicePort of service.spec?.ports ?? []) {
      if ((servicePort.protocol ?? 'TCP') !== 'TCP') continue;
      const server = createServer((socket) => this.forward(key, servicePort, socket));
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => done());
      });
      const { port } = server.address() as { port: number };
      forwarders.push({
        server,
        next: 0,
        endpoint: {
          namespace: service.metadata.namespace!,
          name: service.metadata.name,
          portName: servicePort.name,
          port: servicePort.port,
          local: `127.0.0.1:${port}`,
        },
      });
    }
    this.forwarders.set(key, forwarders);
  }

  private async remove(service: KubeObject): Promise<void> {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    const forwarders = this.forwarders.get(key) ?? [];
    this.forwarders.delete(key);
    await Promise.all(forwarders.map((f) => new Promise<void>((done) => f.server.close(() => done()))));
  }

  private forward(key: string, servicePort: any, client: Socket): void {
    const [namespace, name] = key.split('/') as [string, string];
    const service = this.services.get(namespace, name);
    const forwarder = this.forwarders.get(key)?.find((f) => f.endpoint.port === servicePort.port);
    const backends = service ? this.backends(service, servicePort) : [];
    if (!forwarder || backends.length === 0) {
      // No serving pod: refuse, as a Service without endpoints does.
      client.resetAndDestroy();
      return;
    }
    const backend = backends[forwarder.next++ % backends.length]!;
    const separator = backend.lastIndexOf(':');
    const upstream = connect({ host: backend.slice(0, separator), port: Number(backend.slice(separator + 1)) });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }
}
