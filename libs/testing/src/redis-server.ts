import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, REPO_ROOT } from './app-process.js';

const STARTUP_TIMEOUT_MS = 10_000;

export interface RedisServerOptions {
  port?: number;
  /**
   * Declare the new, empty server a fresh lock server (as `npm start` and `npm test` do), so apps
   * let it vote at once instead of after one lease. Default true. Only the first start is
   * declared: after `stop()` + `start()` the apps must detect the restart themselves.
   */
  fresh?: boolean;
}

/**
 * A throw-away `redis-server` (no persistence) owned by one test file, for tests that need several
 * independent servers (a Redlock quorum) or that stop and restart Redis. `stop()` then `start()`
 * brings it back on the same port, empty.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private dir: string | undefined;
  private output = '';
  private starts = 0;

  private constructor(
    readonly port: number,
    private readonly fresh: boolean,
  ) {}

  /** Starts a server on a free port (or `options.port`) and resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options.fresh ?? true);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.dir ??= await mkdtemp(join(tmpdir(), 'redis-test-'));
    this.output = '';
    const child = spawn(
      process.env.REDIS_SERVER_BIN ?? 'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    let failure: Error | undefined;
    child.once('error', (error) => (failure = error));
    this.exited = new Promise((done) => child.once('close', () => done()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    // A test process that dies must not leave servers behind.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void this.exited.then(() => process.removeListener('exit', killOnExit));

    const started = Date.now();
    while (!(await ping(this.port))) {
      if (failure) throw new Error(`Cannot start redis-server: ${failure.message}`);
      if (!this.child) throw new Error(`redis-server on port ${this.port} exited during start-up:\n${this.output}`);
      if (Date.now() - started > STARTUP_TIMEOUT_MS) {
        await this.stop('SIGKILL');
        throw new Error(`redis-server on port ${this.port} did not answer PING in time:\n${this.output}`);
      }
      await new Promise((done) => setTimeout(done, 25));
    }
    if (this.starts++ === 0 && this.fresh) {
      const infra = await import(pathToFileURL(join(REPO_ROOT, 'scripts/infra/redis.mjs')).href);
      await infra.declareFreshDataset(this.port);
    }
  }

  /** Stops the server (`SIGKILL` simulates a crash) and resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.child?.kill(signal);
    await this.exited;
  }

  /** Stops the server for good and removes its working directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
