import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from './project.mjs';

const COLORS = { base: 36, main: 35, stream: 33, gateway: 32 };

/**
 * Starts one compiled app (`apps/<app>/dist/main.js`) with its output prefixed, and resolves once
 * `/health/live` answers. `onExit` fires if it dies later.
 */
export async function startAppProcess({ app, label = app, port, env, onExit, timeoutMs = 60_000 }) {
  const child = spawn(process.execPath, [path.join(ROOT, `apps/${app}/dist/main.js`)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `\x1b[${COLORS[app] ?? 37}m[${label}]\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => console.log(prefix + line));
  }
  let exited = false;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve();
      onExit?.(code, signal);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (!(await isLive(url))) {
    if (exited) throw new Error(`${label} exited during start-up (see its output above)`);
    if (Date.now() - started > timeoutMs)
      throw new Error(`${label} did not come up on ${url} in ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

async function isLive(url) {
  try {
    return (await fetch(`${url}/health/live`)).ok;
  } catch {
    return false;
  }
}
