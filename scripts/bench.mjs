// `npm run bench -- <name>…`: builds, provides Cassandra and Redis like `npm test` (or uses
// CASSANDRA_CONTACT_POINTS / REDIS_URL), then runs the named benchmark scripts from
// test/bench/<name>.bench.ts one after the other. Benchmarks print figures; they are not tests.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { acquireRunLock } from './infra/run-lock.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { Stack } from './lib/stack.mjs';

const stack = new Stack();
stack.stopOnSignals();
const benchDir = path.join(ROOT, 'test/dist/bench');

let exitCode = 0;
try {
  await ensureDependencies();
  await build();
  const available = readdirSync(benchDir)
    .filter((file) => file.endsWith('.bench.js'))
    .map((file) => file.replace(/\.bench\.js$/, ''));
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !available.includes(name));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; have: ${available.join(', ')}`);
  if (!process.env.CASSANDRA_CONTACT_POINTS) stack.push('run lock', acquireRunLock(ROOT, 'bench'));
  const env = { ...process.env, ...(await provideInfra(stack, { name: 'bench', fresh: true })) };
  for (const name of wanted.length ? wanted : available) {
    log(`benchmark ${name}`);
    const child = spawn(process.execPath, [path.join(benchDir, `${name}.bench.js`)], {
      cwd: ROOT,
      stdio: 'inherit',
      env,
    });
    const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    if (code !== 0) exitCode = code;
  }
} catch (error) {
  console.error(`[kubescaler] benchmark failed: ${error.message}`);
  exitCode = 1;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);
