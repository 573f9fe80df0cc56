import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real dependency, so a test can take that dependency away
 * from one app without stopping it for everyone else:
 * - `refuse()`: drop every connection and refuse new ones (the server looks down);
 * - `blackhole()`: keep every connection open but stop passing bytes, and hold new ones
 *   unanswered (the server hangs);
 * - `restore()`: drop what is held and forward again;
 * - `holdFrom(match)` / `releaseHeld()`: hold back the first request that matches (and what
 *   follows it on its connection), then deliver it late — a command that timed out at the client
 *   but still runs on the server.
 */
export class TcpProxy {
  private server: Server | undefined;
  private mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  private readonly sockets = new Set<Socket>();
  private holdMatch: ((chunk: Buffer) => boolean) | undefined;
  private onHeld: (() => void) | undefined;
  private readonly releases: (() => number)[] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** From a `host:port` contact point such as `127.0.0.1:9042`. */
  static forAddress(address: string, defaultPort: number): TcpProxy {
    const [host, port] = address.split(':');
    return new TcpProxy(host ?? '127.0.0.1', Number(port ?? defaultPort));
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  refuse(): Promise<void> {
    this.mode = 'refuse';
    this.dropAll();
    return this.closeServer();
  }

  blackhole(): void {
    this.mode = 'blackhole';
    for (const socket of this.sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  async restore(): Promise<void> {
    this.mode = 'forward';
    this.dropAll();
    if (!this.server) await this.listen(this.port);
  }

  /** Resolves once a client→server chunk matching `match` arrived and is held with all after it. */
  holdFrom(match: (chunk: Buffer) => boolean): Promise<void> {
    this.holdMatch = match;
    return new Promise((resolve) => (this.onHeld = resolve));
  }

  /** Delivers what `holdFrom` held back, in order, and forwards normally again; returns the chunks delivered. */
  releaseHeld(): number {
    this.holdMatch = undefined;
    return this.releases.splice(0).reduce((delivered, release) => delivered + release(), 0);
  }

  async stop(): Promise<void> {
    this.mode = 'refuse';
    this.dropAll();
    await this.closeServer();
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.targetPort, this.targetHost);
    this.track(upstream);
    upstream.pipe(client);
    let held: Buffer[] | undefined;
    const forward = (chunk: Buffer) => {
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    };
    client.on('data', (chunk: Buffer) => {
      if (held) return void held.push(chunk);
      if (this.holdMatch?.(chunk)) {
        held = [chunk];
        this.releases.push(() => {
          const chunks = held ?? [];
          held = undefined;
          if (upstream.destroyed) return 0;
          chunks.forEach(forward);
          return chunks.length;
        });
        this.holdMatch = undefined;
        this.onHeld?.();
        return;
      }
      forward(chunk);
    });
    client.once('end', () => upstream.end());
    // Either side closing closes the pair.
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.sockets.delete(socket));
  }

  private dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
