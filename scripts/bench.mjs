// `npm run bench`: builds, provides Cassandra and Redis like `npm test` (or uses
// CASSANDRA_CONTACT_POINTS / REDIS_URL), then runs the standard benchmark set (figures a–g and j, each
// against the plain Nest `@Sse()` baseline) and writes bench/results/<date>.json and .md.
// `npm run bench -- <name>…` runs only the named benchmarks (test/bench/<name>.bench.ts, e.g. `api`);
// their figures, if they report any, go to bench/results/<date>-<names>.json and .md.
// BENCH_OUT_DIR writes the results elsewhere; BENCH_SCALE=smoke runs every figure tiny (the test suite's smoke run).
// Benchmarks print figures; they are not tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import { cassandraGcLog } from '../libs/infra/cassandra.mjs';
import { acquireRunLock } from '../libs/infra/run-lock.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { UNTHROTTLED } from './lib/app-env.mjs';
import { authSecret, internalToken } from './lib/secrets.mjs';
import { Stack } from './lib/stack.mjs';

/** The standard set, in the order of the results table (figures a–g, then j). */
const FIGURES = ['idle', 'throughput', 'write-rate', 'ttfe', 'lock', 'stall', 'rest', 'freshness'];

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
  const names = wanted.length ? wanted : FIGURES;
  const started = new Date();
  const host = hostFigures();
  log(
    `benchmarks: ${names.join(', ')} on ${host.cpus} CPUs, ${(host.memoryBytes / 2 ** 30).toFixed(0)} GiB, load average ${host.loadAverageAtStart.join(' ')}, open files ${host.openFiles}`,
  );

  if (!process.env.CASSANDRA_CONTACT_POINTS) stack.push('run lock', acquireRunLock(ROOT, 'bench'));
  const env = { ...process.env, ...(await provideInfra(stack, { name: 'bench', fresh: true })) };
  // The run's own Cassandra logs its pauses there; a benchmark may report those of its windows.
  if (!process.env.CASSANDRA_CONTACT_POINTS) env.BENCH_CASSANDRA_GC_LOG = cassandraGcLog(ROOT, 'bench');
  // The apps verify users' tokens with it; the load generator mints one per stream from it.
  env.AUTH_JWT_SECRET = authSecret().value;
  env.INTERNAL_TOKEN = internalToken().value;
  // Load comes from one address: the per-client rate limits would throttle it.
  Object.assign(env, UNTHROTTLED);
  const date = started.toISOString().slice(0, 10);
  const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(ROOT, 'bench/results'));
  const stem = wanted.length ? `${date}-${wanted.join('+')}` : date;
  const fragments = path.join(outDir, `${stem}.tmp`);
  rmSync(fragments, { recursive: true, force: true });
  mkdirSync(fragments, { recursive: true });
  env.BENCH_RESULTS_DIR = fragments;

  const failed = [];
  for (const name of names) {
    log(`benchmark ${name}`);
    const code = await runRaisingOpenFiles(path.join(benchDir, `${name}.bench.js`), env);
    if (code !== 0) {
      failed.push(name);
      exitCode = code;
    }
  }
  const written = await writeResults({ fragments, outDir, stem, started, host, names, failed });
  if (written) log(`results: ${written.json}\n[kubescaler]          ${written.md}`);
  rmSync(fragments, { recursive: true, force: true });
} catch (error) {
  console.error(`[kubescaler] benchmark failed: ${error.message}`);
  exitCode = 1;
} finally {
  await stack.stopAll();
}
process.exit(exitCode);

/**
 * Runs one benchmark with the soft open-files limit raised to the hard one (15k streams need
 * ≥ 15k sockets in the stream process and as many in the load generator); its children inherit it.
 */
function runRaisingOpenFiles(script, env) {
  const child = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, script],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env,
    },
  );
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

function hostFigures() {
  const limits = spawnSync('/bin/sh', ['-c', 'echo "$(ulimit -Sn) $(ulimit -Hn)"'], { encoding: 'utf8' })
    .stdout.trim()
    .split(' ');
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    node: process.version,
    kernel: os.release(),
    openFiles: `${limits[1]} (soft ${limits[0]}, raised to the hard limit for the benchmarks)`,
    loadAverageAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
}

/** Collects the figures' fragments into <stem>.json and a markdown table <stem>.md, prettier-formatted. */
async function writeResults({ fragments, outDir, stem, started, host, names, failed }) {
  const figures = names
    .map((name) => path.join(fragments, `${name}.json`))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')));
  if (figures.length === 0) return undefined;
  const result = {
    startedAt: started.toISOString(),
    minutes: Number(((Date.now() - started.getTime()) / 60_000).toFixed(1)),
    host: { ...host, loadAverageAtEnd: os.loadavg().map((v) => Number(v.toFixed(2))) },
    scale: figures.some((f) => f.scale === 'smoke') ? 'smoke' : 'full',
    failed,
    figures,
  };
  const json = path.join(outDir, `${stem}.json`);
  const md = path.join(outDir, `${stem}.md`);
  const format = async (file, text) =>
    prettier.format(text, { ...(await prettier.resolveConfig(file)), filepath: file }).catch(() => text);
  writeFileSync(json, await format(json, `${JSON.stringify(result, null, 2)}\n`));
  writeFileSync(md, await format(md, markdown(result, stem)));
  return { json, md };
}

function formatNumber(value) {
  if (value === null || value === undefined) return '–';
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function markdown(result, stem) {
  const lines = [
    `# Benchmarks ${result.startedAt.slice(0, 10)}`,
    '',
    `One stream process on this box: ${result.host.cpus} × ${result.host.cpuModel}, ${(result.host.memoryBytes / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${result.host.node}, Linux ${result.host.kernel}; open files ${result.host.openFiles}; load average ` +
      `${result.host.loadAverageAtStart.join(' ')} at the start, ${result.host.loadAverageAtEnd.join(' ')} at the end; ${result.minutes} min` +
      `${result.scale === 'smoke' ? '; **smoke scale** (tiny sizes, figures meaningless)' : ''}.`,
    'Baseline: a plain Nest `@Sse()` endpoint (RxJS `interval` → `MessageEvent`) serving the same events at the same rate and size, ' +
      'with the same admission (binding check through base and the same `PairLock`) — for e, plain `redlock` acquire/release; for g, a plain Nest route; ' +
      "for i, our stream app behind nginx with the Ingress's former settings (`proxy_buffering off` and the `/stream` timeouts only).",
    '',
    '| | figure | ours | baseline | ours/baseline | goal | met? |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  for (const figure of result.figures) {
    for (const [i, row] of figure.rows.entries()) {
      const ratio = row.ours !== null && row.baseline ? `${(row.ours / row.baseline).toFixed(2)}×` : '–';
      const met = row.met === null ? '–' : row.met ? 'yes' : '**no**';
      const unit = row.unit ? ` ${row.unit}` : '';
      lines.push(
        `| ${i === 0 ? figure.figure : ''} | ${row.metric}${row.note ? ` <sub>(${row.note})</sub>` : ''} | ${formatNumber(row.ours)}${unit} | ` +
          `${formatNumber(row.baseline)}${unit} | ${ratio} | ${row.goal ? `${row.goal}${unit}` : 'reported'} | ${met} |`,
      );
    }
  }
  const findings = result.figures.flatMap((figure) => figure.findings.map((text) => `- ${figure.figure}: ${text}`));
  if (findings.length) lines.push('', 'Measured where a goal was missed:', '', ...findings);
  if (result.failed.length) lines.push('', `Benchmarks that failed to complete: ${result.failed.join(', ')}.`);
  lines.push('', `Raw figures: \`${stem}.json\` beside this file (per-step details, load generator summaries).`, '');
  return lines.join('\n');
}
