// Runs Debian's nginx in the foreground with a generated configuration, in a working directory
// of its own (config, logs, pid, temp paths), as a child of the run that started it.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { ensureDebianCommand } from './apt.mjs';
import { hasExited, lineBuffer, sleep, stopChild, trackChild } from './children.mjs';
import { assertPortFree } from './ports.mjs';

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** Installs Debian's nginx with apt-get unless it is already there; resolves to the binary's path. */
export function ensureNginx(log = () => {}) {
  return ensureDebianCommand({ command: 'nginx', pkg: 'nginx', log });
}

function canConnect(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function tail(file, lines = 20) {
  try {
    return (await fs.readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts nginx on `host:port` with the configuration `config(dir)` returns for its working
 * directory `dir`; checks the configuration first (`nginx -t`) so a mistake is reported as such,
 * and resolves once the port accepts connections. `stop()` is nginx's fast shutdown (SIGTERM):
 * every connection, streams included, is closed at once.
 */
export async function startNginx({ dir, host, port, config, log = () => {}, label = 'nginx' }) {
  const binary = await ensureNginx(log);
  await assertPortFree(port, label);
  await fs.mkdir(path.join(dir, 'temp'), { recursive: true });
  const confFile = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  await fs.writeFile(confFile, config(dir));
  // -e: nginx's own messages before the configuration is read go here, not to /var/log/nginx.
  const args = ['-p', dir, '-c', confFile, '-e', errorLog];

  const check = await new Promise((resolve) => {
    const child = trackChild(spawn(binary, [...args, '-t', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => resolve({ ok: code === 0, output }));
  });
  if (!check.ok) throw new Error(`${label}: configuration ${confFile} rejected:\n${check.output.trimEnd()}`);

  const started = Date.now();
  const child = trackChild(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = lineBuffer(30);
  child.stdout.on('data', (d) => output.push(d));
  child.stderr.on('data', (d) => output.push(d));
  let spawnError;
  child.once('error', (error) => (spawnError = error));
  for (;;) {
    if (spawnError) throw new Error(`${label}: cannot start ${binary}: ${spawnError.message}`);
    if (hasExited(child)) {
      throw new Error(`${label} exited during start-up:\n${output.text()}\n${await tail(errorLog)}`);
    }
    if (Date.now() - started > STARTUP_TIMEOUT_MS) {
      await stopChild(child, STOP_GRACE_MS);
      throw new Error(`${label} did not listen on ${host}:${port} in time:\n${await tail(errorLog)}`);
    }
    if (await canConnect(host, port)) break;
    await sleep(25);
  }
  log(`${label}: nginx ready on ${host}:${port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    pid: child.pid,
    dir,
    errorLog,
    stop: () => stopChild(child, STOP_GRACE_MS),
  };
}
