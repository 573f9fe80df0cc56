import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, launchNodeApp } from './app-process.js';
import { eventually } from './eventually.js';

/** A real HTTP server on PORT that answers /health/live, reports its env and ignores SIGTERM when told to. */
const APP = `
import { createServer } from 'node:http';
console.log('starting on', process.env.PORT);
if (process.env.IGNORE_SIGTERM) process.on('SIGTERM', () => console.log('SIGTERM ignored'));
else process.on('SIGTERM', () => process.exit(7));
createServer((req, res) => {
  if (req.url === '/health/live') return res.end('ok');
  res.end(JSON.stringify({ argv: process.execArgv, gone: process.env.GONE ?? null, kept: process.env.KEPT ?? null }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

describe(launchNodeApp.name, () => {
  let dir = '';
  const script = (name: string) => join(dir, name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-app-'));
    await writeFile(script('app.mjs'), APP);
    await writeFile(script('crash.mjs'), "console.error('config invalid: FOO'); process.exit(3);\n");
    await writeFile(
      script('silent.mjs'),
      "import { writeFileSync } from 'node:fs';\nwriteFileSync(process.env.PID_FILE, String(process.pid));\nsetInterval(() => {}, 1000);\n",
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('resolves once /health/live answers, with the env, node options and output it was given', async () => {
    process.env.GONE = 'inherited';
    try {
      const sut = await launchNodeApp({
        script: script('app.mjs'),
        port: await freePort(),
        env: { GONE: undefined, KEPT: 'yes' },
        nodeArgs: ['--max-old-space-size=64'],
      });
      try {
        const answer = (await (await fetch(sut.url)).json()) as Record<string, unknown>;
        assert.deepEqual(answer, { argv: ['--max-old-space-size=64'], gone: null, kept: 'yes' });
        assert.match(sut.output(), new RegExp(`starting on ${sut.port}`));
      } finally {
        assert.equal(await sut.stop(), 7, 'SIGTERM reached the app, which exited with its own code');
      }
    } finally {
      delete process.env.GONE;
    }
  });

  it('rejects with the output when the app exits during start-up', async () => {
    await assert.rejects(
      launchNodeApp({ script: script('crash.mjs'), label: 'crashy', port: await freePort() }),
      /^Error: crashy exited during start-up:\nconfig invalid: FOO/,
    );
  });

  it('points at the printed output instead when each line was handed to onLine', async () => {
    const lines: string[] = [];
    await assert.rejects(
      launchNodeApp({
        script: script('crash.mjs'),
        label: 'crashy',
        port: await freePort(),
        onLine: (l) => lines.push(l),
      }),
      /^Error: crashy exited during start-up \(see its output above\)$/,
    );
    assert.deepEqual(lines, ['config invalid: FOO']);
  });

  it('kills an app that never answers within the timeout and says so', async () => {
    const port = await freePort();
    const pidFile = script('silent.pid');
    await assert.rejects(
      launchNodeApp({
        script: script('silent.mjs'),
        label: 'silent',
        port,
        env: { PID_FILE: pidFile },
        timeoutMs: 3000,
      }),
      new RegExp(`^Error: silent did not answer /health/live on http://127.0.0.1:${port} within 3000 ms`),
    );
    const pid = Number(await readFile(pidFile, 'utf8'));
    await eventually(async () => assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }), 5000);
  });

  it('keeps only the last outputLimit characters, and SIGKILLs after killAfterMs an app that ignores SIGTERM', async () => {
    const exits: [number | null, string | null][] = [];
    const sut = await launchNodeApp({
      script: script('app.mjs'),
      port: await freePort(),
      env: { IGNORE_SIGTERM: '1' },
      outputLimit: 5,
      killAfterMs: 300,
      onExit: (code, signal) => exits.push([code, signal]),
    });
    assert.equal(sut.output().length, 5);
    assert.equal(await sut.stop(), null);
    assert.deepEqual(exits, [[null, 'SIGKILL']]);
    assert.equal(await sut.stop(), null, 'stopping a stopped app resolves at once');
  });
});
