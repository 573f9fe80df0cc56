// Runs one Node app as a child process and waits until it is live: the one launcher behind
// `npm start` (scripts/lib/apps.mjs), the tests (libs/testing startApp) and the benchmarks
// (test/load/bench-kit.ts). Types: node-app.d.mts.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

import { hasExited, sleep, trackChild } from './children.mjs';

const POLL_MS = 100;

/** Resolves true once GET `<url>/health/live` answers 2xx. */
async function isLive(url) {
  try {
    return (await fetch(`${url}/health/live`)).ok;
  } catch {
    return false;
  }
}

/**
 * Spawns `node [...nodeArgs] <script>` with `PORT=<port>` over `process.env` + `env` (a key set to
 * undefined is left out) and resolves once `/health/live` answers on 127.0.0.1:<port>. Rejects,
 * after killing the child, if it exits first or is not live within `timeoutMs`; the error carries
 * its output, or points above it when `onLine` printed it. The child never outlives this process.
 */
export async function launchNodeApp({
  script,
  port,
  label = script,
  env = {},
  nodeArgs = [],
  cwd,
  timeoutMs = 20_000,
  outputLimit = Infinity,
  onLine,
  onExit,
  killAfterMs,
}) {
  const child = trackChild(
    spawn(process.execPath, [...nodeArgs, script], {
      cwd,
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > outputLimit) output = output.slice(output.length - outputLimit);
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', keep);
    if (onLine) readline.createInterface({ input: stream }).on('line', onLine);
  }
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      resolve(code);
      onExit?.(code, signal);
    }),
  );
  const shown = () => (onLine ? ' (see its output above)' : `:\n${output}`);
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (!(await isLive(url))) {
    if (hasExited(child)) throw new Error(`${label} exited during start-up${shown()}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${label} did not answer /health/live on ${url} within ${timeoutMs} ms${shown()}`);
    }
    await sleep(POLL_MS);
  }
  return {
    url,
    port,
    child,
    exited,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (hasExited(child)) return exited;
      child.kill(signal);
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
