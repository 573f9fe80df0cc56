// Installs a Debian package with apt-get when the command it provides is missing.
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

import { runCollecting, sleep } from './children.mjs';

/** Where Debian puts daemons (nginx), which a non-root PATH often lacks. */
const SYSTEM_DIRS = ['/usr/sbin', '/sbin'];

/** How long to wait for another apt/dpkg process (another terminal, unattended-upgrades) to finish. */
const LOCK_WAIT_MS = 10 * 60_000;
const LOCK_RETRY_MS = 3_000;
const LOCK_HELD =
  /Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock|is another process using it/;

/** The full path of `command` on PATH (or in /usr/sbin, /sbin), or null. */
export async function findOnPath(command) {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...SYSTEM_DIRS]) {
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

function aptGetOnce(args) {
  // apt ≥ 1.9.11 waits for the dpkg frontend lock itself; the retry loop below covers the others.
  return runCollecting('apt-get', ['-o', `DPkg::Lock::Timeout=${LOCK_WAIT_MS / 1000}`, ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** apt-get, retried while another apt/dpkg process holds one of its locks. */
async function aptGet(args, log) {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let warned = false; ; warned = true) {
    const result = await aptGetOnce(args);
    if (result.ok || !LOCK_HELD.test(result.output) || Date.now() > deadline) return result;
    if (!warned) log(`apt-get ${args[0]}: another apt/dpkg process holds the lock; waiting for it…`);
    await sleep(LOCK_RETRY_MS);
  }
}

// apt-get holds a lock: concurrent installs from one run would fail, so they queue here.
let queue = Promise.resolve();

/**
 * Makes `command` available, installing Debian's `pkg` (a package name, or several) with apt-get
 * (as root) if it is not on PATH; resolves to its full path.
 */
export function ensureDebianCommand({ command, pkg, log = () => {} }) {
  const next = queue.then(() => install({ command, pkg, log }));
  queue = next.catch(() => {});
  return next;
}

/** Debian packages (names) that dpkg does not list as installed. */
async function missingPackages(packages) {
  const result = await runCollecting('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...packages]);
  const installed = new Set(
    result.output
      .split('\n')
      .filter((line) => line.endsWith(' installed'))
      .map((line) => line.split(' ')[0]),
  );
  return packages.filter((name) => !installed.has(name));
}

/**
 * Makes the Debian `packages` installed (libraries and tools that provide no command of their own
 * to look for, e.g. libc6-dev), with apt-get as root when dpkg lacks any of them.
 */
export function ensureDebianPackages({ packages, log = () => {} }) {
  const next = queue.then(async () => {
    const missing = await missingPackages(packages);
    if (!missing.length) return;
    await install({ command: null, pkg: missing, log });
    const still = await missingPackages(missing);
    if (still.length) throw new Error(`apt-get ran, but ${still.join(' ')} still not installed`);
  });
  queue = next.catch(() => {});
  return next;
}

async function install({ command, pkg, log }) {
  const found = command && (await findOnPath(command));
  if (found) return found;
  const packages = [pkg].flat();
  pkg = packages.join(' ');
  const manualHint = `install it yourself (Debian/Ubuntu: apt-get install -y ${pkg}) and retry`;
  if (!(await findOnPath('apt-get'))) {
    throw new Error(`${command ?? pkg} is missing and apt-get is not available; ${manualHint}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`${command ?? pkg} is missing and installing it needs root; ${manualHint}`);
  }

  log(`${pkg}: installing with apt-get (first run only)…`);
  const args = ['install', '-y', '--no-install-recommends', ...packages];
  let result = await aptGet(args, log);
  if (!result.ok && /Unable to locate package/.test(result.output)) {
    // Fresh images often ship without package lists.
    log('apt-get update…');
    const update = await aptGet(['update'], log);
    if (!update.ok) throw new Error(`apt-get update failed:\n${update.output.trimEnd()}`);
    result = await aptGet(args, log);
  }
  if (!result.ok) throw new Error(`apt-get install ${pkg} failed:\n${result.output.trimEnd()}`);
  if (!command) return null;
  const installed = await findOnPath(command);
  if (!installed) throw new Error(`apt-get installed ${pkg}, but ${command} is still not on PATH`);
  log(`${pkg}: installed`);
  return installed;
}
