// Runs throwaway Redis servers (no persistence) for local development and tests.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { hasExited, lineBuffer, sleep, stopChild, trackChild } from './children.mjs';
import { assertPortFree } from './ports.mjs';

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 20_000;

async function findOnPath(command) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

function aptGet(args) {
  return new Promise((resolve, reject) => {
    const child = trackChild(
      spawn('apt-get', args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      }),
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ ok: code === 0, output }));
  });
}

/** Installs redis-server with apt-get unless it is already on PATH. */
export async function ensureRedisServer(log = () => {}) {
  if (await findOnPath('redis-server')) return;

  const manualHint = 'install Redis yourself (Debian/Ubuntu: apt-get install -y redis-server) and retry';
  if (!(await findOnPath('apt-get'))) {
    throw new Error(`redis-server is not on PATH and apt-get is not available; ${manualHint}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`redis-server is not on PATH and installing it needs root; ${manualHint}`);
  }

  log('redis: installing redis-server with apt-get (first run only)…');
  const install = ['install', '-y', '--no-install-recommends', 'redis-server'];
  let result = await aptGet(install);
  if (!result.ok && /Unable to locate package/.test(result.output)) {
    // Fresh images often ship without package lists.
    log('redis: running apt-get update…');
    const update = await aptGet(['update']);
    if (!update.ok) throw new Error(`apt-get update failed:\n${update.output.trimEnd()}`);
    result = await aptGet(install);
  }
  if (!result.ok) throw new Error(`apt-get install redis-server failed:\n${result.output.trimEnd()}`);
  if (!(await findOnPath('redis-server'))) {
    throw new Error('apt-get installed redis-server, but it is still not on PATH');
  }
  log('redis: redis-server installed');
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

/**
 * Starts a non-persistent redis-server on 127.0.0.1:<port> with its working
 * directory in <root>/.cache/redis/<name>, and resolves once it answers PING.
 */
export async function startRedis({ root, name, port, log = () => {} }) {
  await assertPortFree(port, `Redis '${name}'`);
  const dir = path.join(root, '.cache', 'redis', name);
  await fs.mkdir(dir, { recursive: true });

  const started = Date.now();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
  ];
  const child = trackChild(spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let spawnError;
  child.once('error', (err) => {
    spawnError = err;
  });
  const output = lineBuffer(30);
  child.stdout.on('data', (d) => output.push(d));
  child.stderr.on('data', (d) => output.push(d));

  for (;;) {
    if (spawnError) {
      throw spawnError.code === 'ENOENT'
        ? new Error('redis-server is not on PATH (call ensureRedisServer() first)')
        : new Error(`Cannot start redis-server: ${spawnError.message}`);
    }
    if (hasExited(child)) {
      const status = child.signalCode ?? `exit code ${child.exitCode}`;
      throw new Error(`redis-server '${name}' exited during startup (${status}):\n${output.text()}`);
    }
    if (Date.now() - started > STARTUP_TIMEOUT_MS) {
      await stopChild(child, STOP_GRACE_MS);
      throw new Error(
        `redis-server '${name}' did not answer PING on port ${port} within ${STARTUP_TIMEOUT_MS / 1000} s:\n${output.text()}`,
      );
    }
    if (await ping(port)) break;
    await sleep(50);
  }

  log(`redis: '${name}' ready on 127.0.0.1:${port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => stopChild(child, STOP_GRACE_MS),
  };
}
