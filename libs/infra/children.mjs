// Bookkeeping shared by the infra launchers: every server process they spawn is
// registered here so it can be stopped gracefully, and force-killed if the parent
// exits without stopping it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const running = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous, so there is no time for a graceful stop.
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** Registers a spawned child; it is forgotten once it exits. */
export function trackChild(child) {
  installExitHook();
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * Runs `command args` to completion as a tracked child (`options` as for `spawn`; its output is
 * always collected), resolving to `{ok, code, signal, output, error}`: stdout and stderr together,
 * and `error` when it could not be started (then `ok` is false and `output` its message).
 */
export function runCollecting(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = trackChild(spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', (error) => resolve({ ok: false, code: null, signal: null, output: error.message, error }));
    child.once('exit', (code, signal) => resolve({ ok: code === 0, code, signal, output, error: undefined }));
  });
}

export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves once the child has exited (immediately if it already has). */
export function waitForExit(child) {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL if the child is still alive after `graceMs`. */
export async function stopChild(child, graceMs) {
  if (hasExited(child)) return;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  let timer;
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const forced = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (forced) {
    child.kill('SIGKILL');
    await exited;
  }
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return err.code === 'EPERM';
  }
  // An exited but not yet reaped (zombie) process still accepts signal 0.
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    return err.code !== 'ENOENT';
  }
}

/** Keeps the last `max` lines written to a stream, for error messages. */
export function lineBuffer(max) {
  const lines = [];
  let partial = '';
  return {
    push(chunk) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop();
      for (const line of parts) {
        lines.push(line);
        if (lines.length > max) lines.shift();
      }
    },
    text() {
      return [...lines, partial]
        .filter((l) => l !== '')
        .slice(-max)
        .join('\n');
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
