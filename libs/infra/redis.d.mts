/** A running redis-server started by `launchRedis`. */
export interface RedisProcess {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number | undefined;
  /** Settles once the process has exited, for whatever reason. */
  readonly exited: Promise<void>;
  readonly running: boolean;
  /** The last lines it wrote, for error messages. */
  output(): string;
  /** Sends `signal` (SIGKILL simulates a crash) and resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface LaunchRedisOptions {
  port: number;
  /** Its working directory (must exist). */
  dir: string;
  /** Names the server in error messages. */
  label?: string;
  /** Declare the new, empty server a fresh lock server, so apps let it vote at once. */
  fresh?: boolean;
}

export function launchRedis(options: LaunchRedisOptions): Promise<RedisProcess>;

export function startRedis(options: {
  root: string;
  name: string;
  port: number;
  log?: (line: string) => void;
}): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }>;

export function ensureRedisServer(log?: (line: string) => void): Promise<void>;

export function declareFreshDataset(port: number): Promise<void>;
