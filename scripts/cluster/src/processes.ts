import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** Every ManagedProcess still running, killed if this process exits first. */
const alive = new Set<ChildProcess>();
let exitHook = false;

/** One long-lived process of the local cluster, its output in a log file, stopped by its PID. */
export class ManagedProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private gone = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
    log: WriteStream,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.gone = true;
        resolve({ code, signal });
      }),
    );
    // Never outlive the process that started it, even when that one ends without stopping it.
    alive.add(child);
    if (alive.size === 1 && !exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const running of alive) running.kill('SIGKILL');
      });
    }
    void this.exited.then(() => {
      alive.delete(child);
      log.end();
    });
  }

  /** Starts `command args` with only `env` (plus PATH), writing stdout and stderr to `logFile`. */
  static start(
    name: string,
    command: string,
    args: readonly string[],
    options: { logFile: string; env?: Record<string, string>; cwd?: string; inheritEnv?: boolean },
  ): ManagedProcess {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const child = spawn(command, args, {
      cwd: options.cwd,
      env:
        options.inheritEnv === false
          ? { PATH: process.env.PATH ?? '', ...options.env }
          : { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('error', (error) => log.write(`[cluster] could not start ${command}: ${error.message}\n`));
    return new ManagedProcess(name, child, options.logFile, log);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.gone;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.gone) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it returns true; fails naming `what` after `timeoutMs`, or at once if `alive` turns false. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs, everyMs = 200, alive }: { timeoutMs: number; everyMs?: number; alive?: ManagedProcess },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (alive && !alive.running)
      throw new Error(`${alive.name} exited while waiting for ${what} (log: ${alive.logFile})`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${what}: not reached within ${(timeoutMs / 1000).toFixed(0)} s${alive ? ` (log: ${alive.logFile})` : ''}`,
      );
    }
    await new Promise((done) => setTimeout(done, everyMs));
  }
}
