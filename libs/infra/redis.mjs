// Runs throwaway Redis servers (no persistence) for local development, tests and benchmarks:
// `launchRedis` is the one launcher; `startRedis` (scripts) and libs/testing's RedisServer wrap it.
// Types: redis.d.mts.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { ensureDebianCommand } from './apt.mjs';
import { hasExited, lineBuffer, sleep, stopChild, trackChild, waitForExit } from './children.mjs';
import { assertPortFree } from './ports.mjs';

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 20_000;

/** Installs redis-server with apt-get unless it is already on PATH. */
export function ensureRedisServer(log = () => {}) {
  return ensureDebianCommand({ command: 'redis-server', pkg: 'redis-server', log });
}

/** Resolves true if the server answers PING with +PONG. */
function ping(port, timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('close', () => done(false));
  });
}

/** Sends one command (RESP) and resolves with the raw reply once `complete(reply)` says it is whole. */
function command(port, args, complete, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const fail = (error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`redis on port ${port} did not answer ${args[0]}`)));
    socket.once('error', fail);
    socket.once('connect', () =>
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
    );
    socket.on('data', (d) => {
      reply += d;
      if (complete(reply)) {
        socket.destroy();
        resolve(reply);
      }
    });
  });
}

/**
 * Declares the redis-server on `port`, which the caller has just started EMPTY, a fresh lock server:
 * `SET kubescaler:dataset fresh:<run_id> NX` (the data-set key of libs/lock). The apps then let it
 * vote at once instead of waiting one lease, for this incarnation only: a restart gets a new
 * run_id, so a restarted server is always detected and kept out of the quorum by the apps.
 */
export async function declareFreshDataset(port) {
  const info = await command(port, ['INFO', 'server'], (reply) => /run_id:\w+\r\n/.test(reply));
  const runId = /run_id:(\w+)/.exec(info)[1];
  await command(port, ['SET', 'kubescaler:dataset', `fresh:${runId}`, 'NX'], (reply) => reply.includes('\r\n'));
}

/**
 * The one way this project runs a redis-server (scripts and tests alike): non-persistent, on
 * 127.0.0.1:<port>, its working directory `dir`. Resolves once it answers PING — and, with
 * `fresh`, once the new, empty server is declared a fresh lock server (`declareFreshDataset`).
 * The process is killed if this one exits without stopping it.
 *
 * @param {{ port: number, dir: string, label?: string, fresh?: boolean }} options
 * @returns {Promise<import('./redis.mjs').RedisProcess>}
 */
export async function launchRedis({ port, dir, label = `on port ${port}`, fresh = false }) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  args.push('--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning');
  const child = trackChild(spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let spawnError;
  child.once('error', (err) => {
    spawnError = err;
  });
  const output = lineBuffer(30);
  child.stdout.on('data', (d) => output.push(d));
  child.stderr.on('data', (d) => output.push(d));
  const exited = waitForExit(child);
  const handle = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    exited,
    get running() {
      return !hasExited(child);
    },
    output: () => output.text(),
    /** Sends `signal` (SIGKILL simulates a crash) and resolves once the process is gone; a SIGTERM it ignores becomes a SIGKILL. */
    async stop(signal = 'SIGTERM') {
      if (signal === 'SIGTERM') return stopChild(child, STOP_GRACE_MS);
      if (!hasExited(child)) child.kill(signal);
      await exited;
    },
  };

  const started = Date.now();
  while (!(await ping(port))) {
    if (spawnError) {
      throw spawnError.code === 'ENOENT'
        ? new Error('redis-server is not on PATH (call ensureRedisServer() first)')
        : new Error(`Cannot start redis-server: ${spawnError.message}`);
    }
    if (hasExited(child)) {
      const status = child.signalCode ?? `exit code ${child.exitCode}`;
      throw new Error(`redis-server ${label} exited during startup (${status}):\n${output.text()}`);
    }
    if (Date.now() - started > STARTUP_TIMEOUT_MS) {
      await handle.stop('SIGKILL');
      throw new Error(
        `redis-server ${label} did not answer PING on port ${port} within ${STARTUP_TIMEOUT_MS / 1000} s:\n${output.text()}`,
      );
    }
    await sleep(25);
  }
  if (fresh) await declareFreshDataset(port);
  return handle;
}

/**
 * Starts a redis-server for a run of the system (`npm start`, `npm test`) on 127.0.0.1:<port>
 * with its working directory in <root>/.cache/redis/<name>, declared a fresh lock server.
 */
export async function startRedis({ root, name, port, log = () => {} }) {
  await assertPortFree(port, `Redis '${name}'`);
  const dir = path.join(root, '.cache', 'redis', name);
  await fs.mkdir(dir, { recursive: true });
  const started = Date.now();
  const redis = await launchRedis({ port, dir, label: `'${name}'`, fresh: true });
  log(`redis: '${name}' ready on 127.0.0.1:${port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { url: redis.url, pid: redis.pid, stop: () => redis.stop() };
}
