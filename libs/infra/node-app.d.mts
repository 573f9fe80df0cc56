import type { ChildProcess } from 'node:child_process';

export interface LaunchNodeAppOptions {
  /** Absolute path of the compiled entry point. */
  script: string;
  port: number;
  /** Names the app in error messages; default the script. */
  label?: string;
  /** Over `process.env`; a key set to undefined is left out. `PORT` is always `port`. */
  env?: Record<string, string | undefined>;
  /** Node options that NODE_OPTIONS refuses (V8 flags such as `--optimize-for-size`). */
  nodeArgs?: readonly string[];
  cwd?: string;
  /** How long it may take to answer `/health/live`; default 20 s. */
  timeoutMs?: number;
  /** Characters of output kept for `output()` and error messages (the last ones); default all. */
  outputLimit?: number;
  /** Each line it prints (stdout and stderr); errors then point at the printed output. */
  onLine?: (line: string) => void;
  /** Called when it exits, at any time. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  /** After `stop()`'s signal, SIGKILL if it is still running this long after; default never. */
  killAfterMs?: number;
}

/** A running app started by `launchNodeApp`. */
export interface NodeAppProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process is gone. */
  readonly exited: Promise<number | null>;
  /** What it printed so far (within `outputLimit`). */
  output(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function launchNodeApp(options: LaunchNodeAppOptions): Promise<NodeAppProcess>;
