import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const log = (line) => console.log(`[kubescaler] ${line}`);

/** Runs a command with inherited output; rejects on a non-zero exit. */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** `npm ci` when node_modules is missing or older than the lockfile. */
export async function ensureDependencies() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies (npm ci)…');
  await run('npm', ['ci', '--no-audit', '--no-fund']);
}

/** Incremental TypeScript build of every app, lib and test project. */
export async function build() {
  const started = Date.now();
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b']);
  log(`build done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** ESLint over the whole tree (its config lists what is ignored). */
export async function lint() {
  const started = Date.now();
  await run(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings=0', '.']);
  log(`lint done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const SPEC = /\.(spec|integration-spec|e2e-spec)\.js$/;

/**
 * Compiled test files under every project's dist/, optionally filtered by path fragments: a file
 * is selected when its path contains one of the plain fragments (all files when there are none)
 * and none of the fragments written `!fragment`.
 */
export function specFiles(filters = []) {
  const found = [];
  const walk = (dir, inDist) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, inDist || entry.name === 'dist');
      else if (inDist && SPEC.test(entry.name)) found.push(full);
    }
  };
  for (const top of ['libs', 'apps', 'test']) if (existsSync(path.join(ROOT, top))) walk(path.join(ROOT, top), false);
  const excluded = filters.filter((f) => f.startsWith('!')).map((f) => f.slice(1));
  const included = filters.filter((f) => !f.startsWith('!'));
  const selected = found.filter(
    (file) =>
      (included.length === 0 || included.some((f) => file.includes(f))) && !excluded.some((f) => file.includes(f)),
  );
  return selected.sort();
}
