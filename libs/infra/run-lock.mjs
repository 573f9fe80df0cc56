import fs from 'node:fs';
import path from 'node:path';

import { isAlive } from './children.mjs';

/**
 * Ensures only one `<name>` run (e.g. "dev") uses this checkout at a time by
 * holding <root>/.cache/<name>.lock, which contains the owner's PID. A lock left
 * behind by a process that no longer exists is taken over.
 * Returns a function that releases the lock; it is also released on exit.
 */
export function acquireRunLock(root, name) {
  const file = path.join(root, '.cache', `${name}.lock`);
  fs.mkdirSync(path.dirname(file), { recursive: true });

  for (;;) {
    if (tryCreate(file)) break;
    const owner = readPid(file);
    if (owner !== null && owner !== process.pid && isAlive(owner)) {
      throw new Error(`kubescaler ${name} is already running (pid ${owner}); stop it first (Ctrl-C in its terminal)`);
    }
    fs.rmSync(file, { force: true });
  }

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return release;
}

// Hard-linking a fully written temp file publishes the lock atomically: it fails
// if the lock exists, and a competitor never observes an empty lock file.
function tryCreate(file) {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${process.pid}\n`);
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function readPid(file) {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : null;
  } catch {
    return null;
  }
}
