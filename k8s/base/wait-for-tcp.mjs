// Init-container helper (runs in the app image, mounted from a ConfigMap): waits until every
// target accepts TCP connections, so an app does not crash-loop while Cassandra or Redis starts.
//
//   node wait-for-tcp.mjs TARGET...
//
// A TARGET is `host:port`, a URL (`redis://host:port`, `http://host:port`), or the NAME of an
// environment variable holding a comma-separated list of those (e.g. REDIS_LOCK_URLS, so the
// list comes from the same ConfigMap the app reads). `majority:TARGET` is satisfied once a
// majority of its list accepts (the lock servers: the app itself needs no more to start).
// Gives up after WAIT_TIMEOUT_SECONDS (600). Self-contained: it is mounted alone from a ConfigMap
// and imports nothing of the project.
/* eslint-disable no-restricted-properties -- an init-container entry point: its environment is its input */
import { realpathSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const DEFAULT_PORTS = { 'redis:': 6379, 'rediss:': 6379, 'http:': 80, 'https:': 443 };
const timeoutMs = Number(process.env.WAIT_TIMEOUT_SECONDS ?? 600) * 1000;
const deadline = Date.now() + timeoutMs;

function parseTarget(raw) {
  const value = raw.trim();
  if (value.includes('://')) {
    const url = new URL(value);
    return { host: url.hostname, port: Number(url.port || DEFAULT_PORTS[url.protocol]) };
  }
  const match = /^([\w.-]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`not a host:port or URL: ${JSON.stringify(value)}`);
  return { host: match[1], port: Number(match[2]) };
}

function expand(arg) {
  let list = arg;
  if (/^[A-Z][A-Z0-9_]*$/.test(arg)) {
    list = process.env[arg];
    if (list === undefined) throw new Error(`environment variable ${arg} is not set`);
  }
  return list
    .split(',')
    .filter((part) => part.trim() !== '')
    .map(parseTarget);
}

/** Resolves true if `host:port` accepts a TCP connection within `timeoutMs`, false otherwise. */
function acceptsConnections({ host, port }, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitFor(target, enough = () => false) {
  let lastLog = 0;
  for (;;) {
    if (enough()) return false;
    if (await acceptsConnections(target)) {
      console.log(`${target.host}:${target.port} is accepting connections`);
      return true;
    }
    if (Date.now() >= deadline) {
      console.error(`gave up waiting for ${target.host}:${target.port}`);
      return false;
    }
    if (Date.now() - lastLog >= 5000) {
      console.log(`waiting for ${target.host}:${target.port}…`);
      lastLog = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }
}

/** True when this file is the process's entry point (a ConfigMap mounts it behind symlinks). */
function isEntryPoint() {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) {
  try {
    const groups = process.argv.slice(2).map((arg) => {
      const majority = arg.startsWith('majority:');
      const targets = expand(majority ? arg.slice('majority:'.length) : arg);
      return { targets, need: majority ? Math.floor(targets.length / 2) + 1 : targets.length };
    });
    if (groups.length === 0) throw new Error('usage: node wait-for-tcp.mjs [majority:]TARGET...');
    const results = await Promise.all(
      groups.map(async ({ targets, need }) => {
        let reached = 0;
        await Promise.all(
          targets.map(async (target) => {
            if (await waitFor(target, () => reached >= need)) reached++;
          }),
        );
        if (reached < need) console.error(`only ${reached} of the ${need} needed targets accept connections`);
        return reached >= need;
      }),
    );
    process.exitCode = results.every(Boolean) ? 0 : 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  }
}
