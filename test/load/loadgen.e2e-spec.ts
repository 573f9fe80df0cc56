import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, RedisServer, REPO_ROOT, startApp, testInfra, uniqueKeyspace } from '@app/testing';
import { LoadGenerator, type LoadResult, loopbackSources } from './load-generator.js';
import { readPairs } from './pairs.js';

const ADMIN_TOKEN = 'loadgen-smoke-admin-token-0123';
const STREAMS = 30;

/** Runs a node script to its end; resolves with its exit code and output. */
function runNode(args: string[], env: Record<string, string | undefined> = {}, onLine?: (line: string) => void) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (onLine) for (const line of text.split('\n')) if (line) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('load generator and bench script (smoke)', () => {
  let base: AppProcess;
  let main: AppProcess;
  let stream: AppProcess;
  let redis: RedisServer;
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-smoke-'));

  before(async () => {
    testInfra();
    redis = await RedisServer.start();
    base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('loadgen'), ADMIN_TOKEN });
    [main, stream] = await Promise.all([
      startApp('main', { BASE_URL: base.url, ADMIN_TOKEN, REDIS_URL: redis.url }),
      startApp('stream', {
        BASE_URL: base.url,
        REDIS_URL: redis.url,
        STREAM_EVENTS_PER_SECOND: '20',
        STREAM_EVENT_BYTES: '2048',
        STREAM_MAX_CONNECTIONS: '200',
      }),
    ]);
  });

  after(async () => {
    await Promise.all([stream?.stop(), main?.stop()]);
    await base?.stop();
    await redis?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'creates test data, holds a mix of readers for a few seconds, refuses busy pairs and writes a sane result',
    { timeout: 60_000 },
    async () => {
      const out = join(dir, 'run.json');
      let refusal: Promise<LoadResult> | undefined;
      const run = await runNode(
        [
          'test/dist/load/loadgen.js',
          `--target=${stream.url}`,
          `--main=${main.url}`,
          '--create-testdata',
          `--admin-token=${ADMIN_TOKEN}`,
          '--users-per-profile=10',
          `--streams=${STREAMS}`,
          '--ramp=10/0.5',
          '--duration=4',
          '--mix=fast=80,slow=10,stalled=10',
          '--slow-rate=8',
          '--expect-eps=20',
          '--sources=4',
          `--out=${out}`,
        ],
        {},
        (line) => {
          // While the run holds its pairs, the same pairs opened again must be refused with 409.
          if (line.startsWith('[') && !refusal) {
            refusal = readPairs(main.url, '/main', 5, ADMIN_TOKEN).then((pairs) =>
              new LoadGenerator({
                targets: [stream.url],
                pairs,
                streams: 5,
                ramp: { clients: 5, everySeconds: 1 },
                durationSeconds: 2,
                intervalSeconds: 1,
                mix: { fast: 100, slow: 0, stalled: 0 },
                slowKBps: 1,
                stallAfterSeconds: 0,
                stallForSeconds: Infinity,
                holdSeconds: Infinity,
                sourceAddresses: loopbackSources(2),
                connectConcurrency: 5,
                handshakeTimeoutSeconds: 5,
              }).run(),
            );
          }
        },
      );
      assert.equal(run.code, 0, run.output);
      assert.ok(run.output.split('\n').filter((line) => /^\[\s*\d+\.\ds\] live /.test(line)).length >= 3, run.output);

      const result = JSON.parse(readFileSync(out, 'utf8')) as LoadResult;
      const { totals, kinds } = result;
      assert.equal(totals.started, STREAMS);
      assert.equal(totals.streaming, STREAMS, JSON.stringify(totals));
      assert.equal(totals.firstEvents, STREAMS);
      assert.equal(totals.maxLive, STREAMS);
      assert.deepEqual(
        {
          refused: totals.refused,
          errors: totals.errors,
          protocol: totals.protocolErrors,
          disorders: totals.disorders,
        },
        {
          refused: {},
          errors: {},
          protocol: 0,
          disorders: 0,
        },
      );
      assert.deepEqual([kinds.fast.started, kinds.slow.started, kinds.stalled.started], [24, 3, 3]);
      // Fast readers keep up with 20 events/s: no gaps, about the full rate, low latency.
      assert.equal(kinds.fast.gaps, 0);
      // Each fast reader holds its stream for the last ≥ 2.5 s of the 4 s run: at least 1.5 s of
      // events each, whatever the box's load delays of the ramp (the rate itself is checked below).
      assert.ok(kinds.fast.messages >= 24 * 20 * 1.5, `fast readers got ${kinds.fast.messages} events`);
      assert.ok(kinds.fast.rateFraction && kinds.fast.rateFraction.p50 > 0.9, JSON.stringify(kinds.fast.rateFraction));
      assert.ok(
        kinds.fast.latency.count === kinds.fast.messages && kinds.fast.latency.p50 < 100,
        JSON.stringify(kinds.fast.latency),
      );
      // Slow readers (8 KB/s of ≈ 41 KB/s) and stalled readers get less than fast ones.
      assert.ok(
        kinds.slow.messages / 3 < (kinds.fast.messages / 24) * 0.6,
        `slow ${kinds.slow.messages}, fast ${kinds.fast.messages}`,
      );
      assert.ok(kinds.stalled.messages / 3 < kinds.fast.messages / 24 / 4, `stalled ${kinds.stalled.messages}`);
      assert.equal(result.ttfe.count, STREAMS);
      assert.ok(result.ttfe.p50 > 0 && result.ttfe.p99 < 5000, JSON.stringify(result.ttfe));
      assert.ok(result.series.length >= 3 && result.series.some((s) => s.live === STREAMS));
      assert.ok(result.loadgen.rssPeakBytes > 0 && result.loadgen.rssPeakBytes < 300e6);
      const html = readFileSync(out.replace(/\.json$/, '.html'), 'utf8');
      assert.match(html, /^<!doctype html>/);
      assert.ok((html.match(/<svg /g) ?? []).length >= 6, 'one SVG chart per panel');
      assert.doesNotMatch(html, /<script|<link|<img|(src|href)="/, 'self-contained');

      assert.ok(refusal, 'the run printed progress lines');
      const refused = await refusal;
      assert.deepEqual(refused.totals.refusedCodes, { '409 PROFILE_IN_USE': 5 });
      assert.equal(refused.totals.streaming, 0);
    },
  );

  it(
    'npm run bench runs one figure end to end, ours against the baseline, and writes the table',
    { timeout: 60_000 },
    async () => {
      const outDir = join(dir, 'bench');
      const run = await runNode(['scripts/bench.mjs', 'write-rate'], {
        BENCH_SCALE: 'smoke',
        BENCH_OUT_DIR: outDir,
        BENCH_KEYSPACE: uniqueKeyspace('benchsmoke'),
      });
      assert.equal(run.code, 0, run.output);
      const files = readdirSync(outDir);
      const json = files.find((file) => file.endsWith('-write-rate.json'));
      assert.ok(json && files.includes(json.replace(/\.json$/, '.md')), files.join(', '));
      assert.ok(!files.some((file) => file.endsWith('.tmp')), 'fragments are cleaned up');
      const result = JSON.parse(readFileSync(join(outDir, json), 'utf8'));
      assert.equal(result.scale, 'smoke');
      assert.deepEqual(result.failed, []);
      const [figure] = result.figures;
      assert.equal(figure.figure, 'c');
      const rate = figure.rows[0];
      assert.ok(rate.ours > 0 && rate.baseline > 0, JSON.stringify(rate));
      const md = readFileSync(join(outDir, json.replace(/\.json$/, '.md')), 'utf8');
      assert.match(
        md,
        /\|\s*\|\s*figure\s*\|\s*ours\s*\|\s*baseline\s*\|\s*ours\/baseline\s*\|\s*goal\s*\|\s*met\?\s*\|/,
      );
      assert.match(md, /\|\s*c\s*\|\s*small-event \(64 B\) write rate/);
      assert.ok(existsSync(join(outDir, json)));
    },
  );
});
