import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback proxy in front of a stream pod that can act out a network switch: `switchNetwork()`
 * drops every client-side connection at once while the pod-side ones stay open (read and
 * discarded, so nothing stalls) — the pod still sees its old connections live, as after a phone
 * changes networks — and new connections go through as before.
 */
export class NetworkSwitch {
  private server: Server | undefined;
  private clients = new Set<Socket>();
  private readonly stranded = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Drops the clients' side of every connection; the pod's side stays open and nobody reads it. */
  switchNetwork(): void {
    for (const client of this.clients) {
      const upstream = (client as Socket & { upstream?: Socket }).upstream;
      if (upstream) {
        // Still read (and discard), so the pod's own close of it is seen here.
        upstream.unpipe();
        upstream.on('data', () => undefined);
        upstream.resume();
        upstream.removeAllListeners('close');
        this.stranded.add(upstream);
      }
      client.destroy();
    }
    this.clients = new Set();
  }

  /** Pod-side connections left open by `switchNetwork` that the pod has not closed yet. */
  get strandedOpen(): number {
    return [...this.stranded].filter((socket) => !socket.destroyed).length;
  }

  async stop(): Promise<void> {
    for (const socket of [...this.clients, ...this.stranded]) socket.destroy();
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    this.clients.add(client);
    const upstream = createConnection(this.targetPort, '127.0.0.1');
    (client as Socket & { upstream?: Socket }).upstream = upstream;
    client.on('error', () => client.destroy());
    upstream.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => {
      this.clients.delete(client);
      if (!this.stranded.has(upstream)) upstream.destroy();
    });
    upstream.once('close', () => client.destroy());
  }
}
