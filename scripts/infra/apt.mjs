// Installs a Debian package with apt-get when the command it provides is missing.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

import { trackChild } from './children.mjs';

export async function findOnPath(command) {
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

// apt-get holds a lock: concurrent installs from one run would fail, so they queue here.
let queue = Promise.resolve();

/** Makes `command` available, installing Debian's `pkg` with apt-get (as root) if it is not on PATH. */
export function ensureDebianCommand({ command, pkg, log = () => {} }) {
  const next = queue.then(() => install({ command, pkg, log }));
  queue = next.catch(() => {});
  return next;
}

async function install({ command, pkg, log }) {
  if (await findOnPath(command)) return;
  const manualHint = `install it yourself (Debian/Ubuntu: apt-get install -y ${pkg}) and retry`;
  if (!(await findOnPath('apt-get'))) {
    throw new Error(`${command} is not on PATH and apt-get is not available; ${manualHint}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`${command} is not on PATH and installing it needs root; ${manualHint}`);
  }

  log(`${pkg}: installing with apt-get (first run only)…`);
  const args = ['install', '-y', '--no-install-recommends', pkg];
  let result = await aptGet(args);
  if (!result.ok && /Unable to locate package/.test(result.output)) {
    // Fresh images often ship without package lists.
    log('apt-get update…');
    const update = await aptGet(['update']);
    if (!update.ok) throw new Error(`apt-get update failed:\n${update.output.trimEnd()}`);
    result = await aptGet(args);
  }
  if (!result.ok) throw new Error(`apt-get install ${pkg} failed:\n${result.output.trimEnd()}`);
  if (!(await findOnPath(command))) throw new Error(`apt-get installed ${pkg}, but ${command} is still not on PATH`);
  log(`${pkg}: installed`);
}
