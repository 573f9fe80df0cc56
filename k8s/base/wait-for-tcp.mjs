// Init-container helper (runs in the app image, mounted from a ConfigMap): waits until every
// target accepts TCP connections, so an app does not crash-loop while Cassandra or Redis starts.
//
//   node wait-for-tcp.mjs TARGET...
//
// A TARGET is `host:port`, a URL (`redis://host:port`, `http://host:port`), or the NAME of an
// environment variable holding a comma-separated list of those (e.g. REDIS_LOCK_URLS, so the
// list comes from the same ConfigMap the app reads). Gives up after WAIT_TIMEOUT_SECONDS (600).
/* eslint-disable no-restricted-properties -- an init-container entry point: its environment is its input */
import net from 'node:net';

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

function connectOnce({ host, port }) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitFor(target) {
  let lastLog = 0;
  for (;;) {
    if (await connectOnce(target)) {
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

try {
  const targets = process.argv.slice(2).flatMap(expand);
  if (targets.length === 0) throw new Error('usage: node wait-for-tcp.mjs TARGET...');
  const results = await Promise.all(targets.map(waitFor));
  process.exitCode = results.every(Boolean) ? 0 : 1;
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
}
