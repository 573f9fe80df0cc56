import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchRedis, type RedisProcess } from '@app/infra/redis.mjs';
import { freePort } from './app-process.js';

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
 * A throw-away `redis-server` (no persistence, a private data directory) owned by one test file,
 * for tests that need several independent servers (a Redlock quorum) or that stop and restart
 * Redis. `stop()` then `start()` brings it back on the same port, empty. Runs through the
 * project's one launcher (`@app/infra/redis.mjs`).
 */
export class RedisServer {
  private process: RedisProcess | undefined;
  private dir: string | undefined;
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

  /** The redis-server process id while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.dir ??= await mkdtemp(join(tmpdir(), 'redis-test-'));
    const fresh = this.starts++ === 0 && this.fresh;
    this.process = await launchRedis({ port: this.port, dir: this.dir, fresh });
  }

  /** Stops the server (`SIGKILL` simulates a crash) and resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.process?.stop(signal);
  }

  /** Stops the server for good and removes its working directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
