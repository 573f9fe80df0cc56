import path from 'node:path';
import { launchNodeApp } from '../../libs/infra/node-app.mjs';
import { ROOT } from './project.mjs';

const COLORS = { base: 36, main: 35, stream: 33, gateway: 32 };

/**
 * Starts one compiled app (`apps/<app>/dist/main.js`) with its output prefixed, and resolves once
 * `/health/live` answers. `onExit` fires if it dies later.
 */
export async function startAppProcess({ app, label = app, port, env, onExit, timeoutMs = 60_000 }) {
  const prefix = `\x1b[${COLORS[app] ?? 37}m[${label}]\x1b[0m `;
  const handle = await launchNodeApp({
    script: path.join(ROOT, `apps/${app}/dist/main.js`),
    label,
    port,
    cwd: ROOT,
    env,
    timeoutMs,
    outputLimit: 0,
    onLine: (line) => console.log(prefix + line),
    onExit,
    killAfterMs: 15_000,
  });
  return { url: handle.url, stop: () => handle.stop().then(() => undefined) };
}
