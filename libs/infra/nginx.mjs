// Runs Debian's nginx in the foreground with a generated configuration, in a working directory
// of its own (config, logs, pid, temp paths), as a child of the run that started it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureDebianCommand } from './apt.mjs';
import { hasExited, lineBuffer, runCollecting, sleep, stopChild, trackChild } from './children.mjs';
import { acceptsConnections, assertPortFree } from './ports.mjs';

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** Installs Debian's nginx with apt-get unless it is already there; resolves to the binary's path. */
export function ensureNginx(log = () => {}) {
  return ensureDebianCommand({ command: 'nginx', pkg: 'nginx', log });
}

const SHIM_SOURCE = fileURLToPath(new URL('./upstream-rcvbuf.c', import.meta.url));
/** The variable upstream-rcvbuf.c reads its size from. */
const SHIM_SIZE_VARIABLE = 'KUBESCALER_UPSTREAM_RCVBUF_BYTES';

/**
 * The preload library that gives nginx's upstream connections a fixed SO_RCVBUF
 * (upstream-rcvbuf.c), compiled with the machine's C compiler (gcc and libc6-dev from apt if
 * there is none) into `<cacheDir>/upstream-rcvbuf-<hash of the source>.so` on first use;
 * resolves to its path. Throws with the compiler's output if it cannot be built.
 */
export async function buildUpstreamRcvbufShim({ cacheDir, log = () => {} }) {
  const source = await fs.readFile(SHIM_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const library = path.join(cacheDir, `upstream-rcvbuf-${hash}.so`);
  try {
    await fs.access(library);
    return library;
  } catch {
    // Not built yet.
  }
  const cc = await ensureDebianCommand({ command: 'cc', pkg: ['gcc', 'libc6-dev'], log });
  await fs.mkdir(cacheDir, { recursive: true });
  // Built beside its final name and renamed, so concurrent starts never load a half-written file.
  const partial = `${library}.${process.pid}.tmp`;
  const built = await runCollecting(cc, [
    '-shared',
    '-fPIC',
    '-O2',
    '-Wall',
    '-Werror',
    '-o',
    partial,
    SHIM_SOURCE,
    '-ldl',
  ]);
  if (!built.ok) {
    await fs.rm(partial, { force: true });
    throw new Error(
      `cannot build ${SHIM_SOURCE} (nginx's bounded upstream receive buffer) with ${cc}:\n${built.output.trimEnd()}`,
    );
  }
  await fs.rename(partial, library);
  log(`nginx upstream receive-buffer library built: ${library}`);
  return library;
}

/** Throws unless process `pid` has `library` mapped (the dynamic loader only warns when a preload fails). */
async function assertLoaded(pid, library, label) {
  const maps = await fs.readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
  // The maps name the file by its real path (a checkout or .cache reached through a symlink differs).
  const real = await fs.realpath(library).catch(() => library);
  if (!maps.includes(real)) {
    throw new Error(`${label}: nginx (pid ${pid}) runs without ${library}: its upstream receive buffers are unbounded`);
  }
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
 * and resolves once the port accepts connections. With `upstreamRcvbuf` (`{bytes, cacheDir}`)
 * every connection nginx opens gets SO_RCVBUF `bytes` (nginx ≥ 1.31.3's `proxy_socket_rcvbuf`)
 * through the preload library built into `cacheDir`; a start without it fails. `stop()` is
 * nginx's fast shutdown (SIGTERM): every connection, streams included, is closed at once.
 */
export async function startNginx({ dir, host, port, config, upstreamRcvbuf, log = () => {}, label = 'nginx' }) {
  const [binary, library] = await Promise.all([
    ensureNginx(log),
    upstreamRcvbuf ? buildUpstreamRcvbufShim({ cacheDir: upstreamRcvbuf.cacheDir, log }) : undefined,
  ]);
  await assertPortFree(port, label);
  await fs.mkdir(path.join(dir, 'temp'), { recursive: true });
  const confFile = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  await fs.writeFile(confFile, config(dir));
  // -e: nginx's own messages before the configuration is read go here, not to /var/log/nginx.
  const args = ['-p', dir, '-c', confFile, '-e', errorLog];
  const env = library
    ? { ...process.env, LD_PRELOAD: library, [SHIM_SIZE_VARIABLE]: String(upstreamRcvbuf.bytes) }
    : process.env;

  const check = await runCollecting(binary, [...args, '-t', '-q'], { env });
  if (!check.ok) throw new Error(`${label}: configuration ${confFile} rejected:\n${check.output.trimEnd()}`);

  const started = Date.now();
  const child = trackChild(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env }));
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
    if (await acceptsConnections({ host, port }, 1_000)) break;
    await sleep(25);
  }
  if (library) {
    try {
      await assertLoaded(child.pid, library, label);
    } catch (error) {
      await stopChild(child, STOP_GRACE_MS);
      throw error;
    }
  }
  log(`${label}: nginx ready on ${host}:${port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    pid: child.pid,
    dir,
    errorLog,
    stop: () => stopChild(child, STOP_GRACE_MS),
  };
}
