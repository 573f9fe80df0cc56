#!/usr/bin/env node
// Smoke test for the local infrastructure launchers:
//   node scripts/infra/selfcheck.mjs
// Starts Cassandra (fresh, then warm on the same data), two Redis servers and a
// run lock, checks each actually works, stops everything and prints timings.
// Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureCassandraJars, startCassandra } from './cassandra.mjs';
import { isAlive, sleep } from './children.mjs';
import { cqlQuery } from './cql.mjs';
import { freePort } from './ports.mjs';
import { ensureRedisServer, startRedis } from './redis.mjs';
import { acquireRunLock } from './run-lock.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CQL_PORT = 19142;
const STORAGE_PORT = 17100;

const log = (message) => console.log(message);
const timings = [];
const running = new Set();
const pids = [];

async function timed(label, fn) {
  const started = performance.now();
  const result = await fn();
  timings.push([label, performance.now() - started]);
  return result;
}

async function start(label, fn) {
  const server = await timed(label, fn);
  running.add(server);
  pids.push(server.pid);
  return server;
}

async function stop(label, server) {
  await timed(label, () => server.stop());
  running.delete(server);
}

function assert(condition, message) {
  if (!condition) throw new Error(`selfcheck: ${message}`);
}

async function checkCassandra() {
  await timed('cassandra jars (download on first run only)', () => ensureCassandraJars({ root, log }));

  const cassandraOptions = { root, name: 'selfcheck', cqlPort: CQL_PORT, storagePort: STORAGE_PORT, log };
  const fresh = await start('cassandra fresh start', () => startCassandra({ ...cassandraOptions, fresh: true }));
  assert(fresh.contactPoint === `127.0.0.1:${CQL_PORT}`, `unexpected contact point ${fresh.contactPoint}`);
  await cqlQuery({
    port: CQL_PORT,
    queries: [
      "CREATE KEYSPACE selfcheck WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      'CREATE TABLE selfcheck.items (id int PRIMARY KEY, color text)',
      "CREATE INDEX items_color ON selfcheck.items (color) USING 'sai'",
      "INSERT INTO selfcheck.items (id, color) VALUES (1, 'red')",
      "INSERT INTO selfcheck.items (id, color) VALUES (2, 'blue')",
    ],
  });
  await stop('cassandra stop', fresh);

  // Same name, no `fresh`: the data written above must survive the restart.
  const warm = await start('cassandra warm start', () => startCassandra(cassandraOptions));
  const [rows] = await cqlQuery({
    port: CQL_PORT,
    queries: ["SELECT id FROM selfcheck.items WHERE color = 'red'"],
  });
  assert(rows.length === 1 && rows[0].id === 1, `SAI query returned ${JSON.stringify(rows)}`);
  await stop('cassandra stop (warm)', warm);
}

async function redisPing(url) {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) }, () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString());
    });
    socket.once('error', reject);
  });
}

async function checkRedis() {
  await timed('redis-server install check', () => ensureRedisServer(log));
  const portA = await freePort();
  let portB = await freePort();
  while (portB === portA) portB = await freePort();

  const a = await start('redis A start', () => startRedis({ root, name: 'selfcheck-a', port: portA, log }));
  const b = await start('redis B start', () => startRedis({ root, name: 'selfcheck-b', port: portB, log }));
  assert((await redisPing(b.url)) === '+PONG\r\n', 'redis B did not answer PING');

  await stop('redis A stop', a);
  const restarted = await start('redis A restart (same port)', () =>
    startRedis({ root, name: 'selfcheck-a', port: portA, log }),
  );
  assert(restarted.url === a.url, `restarted redis has url ${restarted.url}, expected ${a.url}`);
  await stop('redis A stop', restarted);
  await stop('redis B stop', b);
}

async function checkRunLock() {
  // A separate process holds the lock until it is killed.
  const holderSource = `
    import { acquireRunLock } from ${JSON.stringify(new URL('./run-lock.mjs', import.meta.url).href)};
    acquireRunLock(${JSON.stringify(root)}, 'selfcheck');
    console.log('locked');
    setInterval(() => {}, 1000);
  `;
  const holder = spawn(process.execPath, ['--input-type=module', '-e', holderSource], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((resolve, reject) => {
      holder.stdout.once('data', resolve);
      holder.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    let error;
    try {
      acquireRunLock(root, 'selfcheck');
    } catch (err) {
      error = err;
    }
    assert(error?.message.includes(`already running (pid ${holder.pid})`), `lock was not refused: ${error}`);
  } finally {
    holder.kill('SIGKILL');
  }
  while (isAlive(holder.pid)) await sleep(20);

  // The holder died without releasing: its lock file is stale and is taken over.
  const release = acquireRunLock(root, 'selfcheck');
  release();
  log('run-lock: refused while held, stale lock taken over');
}

async function main() {
  await checkRunLock();
  await checkRedis();
  await checkCassandra();

  const leftovers = pids.filter(isAlive);
  assert(leftovers.length === 0, `processes still running after stop: ${leftovers.join(', ')}`);

  console.log('\nselfcheck passed');
  for (const [label, ms] of timings) console.log(`  ${label.padEnd(46)} ${(ms / 1000).toFixed(1).padStart(6)} s`);
}

try {
  await main();
} catch (err) {
  console.error(`\nselfcheck FAILED: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await Promise.all([...running].map((server) => server.stop()));
}
