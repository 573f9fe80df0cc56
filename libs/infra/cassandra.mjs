// Runs a single-node Apache Cassandra for local development and tests, without
// Docker and without the binary distribution: the server's jars come from Maven
// Central (org.apache.cassandra:cassandra-all) and the JVM is launched directly
// with the flags the stock bin/cassandra + conf/*.options would have used.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

import { hasExited, isAlive, lineBuffer, sleep, stopChild, trackChild } from './children.mjs';
import { assertPortFree } from './ports.mjs';

export const CASSANDRA_VERSION = '5.0.9';
const LOCAL_DC = 'datacenter1';
const STARTUP_TIMEOUT_MS = 180_000;
const STOP_GRACE_MS = 20_000;
const LOG_TAIL_LINES = 30;
const READY_QUERY = 'SELECT cluster_name, release_version FROM system.local';
const KNOWN_JVM_NOISE =
  /^WARNING: (A terminally deprecated method in java\.lang\.System|System::setSecurityManager|Please consider reporting this to the maintainers of org\.apache\.cassandra\.security\.ThreadAwareSecurityManager)/;

// Maven 3.8 would otherwise pick the ancient 2.8 plugin by default.
const DEPENDENCY_PLUGIN_VERSION = '3.6.1';

const READY_QUERY_TIMEOUT_MS = 5_000;

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The node's `system.local` row through cassandra-driver (one connection, no schema
 * metadata); rejects while the node does not answer CQL yet.
 */
async function queryLocalNode(port) {
  // Imported on first use, not at the top: npm start/test/bench load this file before their
  // `npm ci` has installed the driver.
  const { default: cassandra } = await import('cassandra-driver');
  const client = new cassandra.Client({
    contactPoints: [`127.0.0.1:${port}`],
    localDataCenter: LOCAL_DC,
    isMetadataSyncEnabled: false,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } },
    socketOptions: { connectTimeout: READY_QUERY_TIMEOUT_MS, readTimeout: READY_QUERY_TIMEOUT_MS },
  });
  try {
    return (await client.execute(READY_QUERY, [], { prepare: true })).first();
  } finally {
    await client.shutdown();
  }
}

function cacheHome(root) {
  return path.join(root, '.cache', 'cassandra', CASSANDRA_VERSION);
}

function pomXml() {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.infra</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>${CASSANDRA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>${CASSANDRA_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

/** Runs a command to completion, failing with its (tail of) output. */
function runCommand(command, args, { cwd, what }) {
  return new Promise((resolve, reject) => {
    const child = trackChild(spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    const output = lineBuffer(40);
    child.stdout.on('data', (d) => output.push(d));
    child.stderr.on('data', (d) => output.push(d));
    child.once('error', (err) =>
      reject(
        err.code === 'ENOENT'
          ? new Error(`${what}: '${command}' is not installed or not on PATH`)
          : new Error(`${what}: ${err.message}`),
      ),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit code ${code}`}):\n${output.text()}`));
    });
  });
}

/**
 * Downloads cassandra-all and its runtime dependencies into
 * <root>/.cache/cassandra/<version>/lib once; later calls return immediately.
 */
export async function ensureCassandraJars({ root, log = () => {} }) {
  const home = cacheHome(root);
  const lib = path.join(home, 'lib');
  const marker = path.join(home, '.download-complete');
  if (existsSync(marker)) return lib;

  log(`cassandra: downloading ${CASSANDRA_VERSION} jars (first run only)…`);
  const started = Date.now();
  await fs.mkdir(home, { recursive: true });
  const pom = path.join(home, 'pom.xml');
  await fs.writeFile(pom, pomXml());
  // Download into a private directory and move it into place only when complete,
  // so an interrupted download never leaves a half-populated lib/ behind.
  const staging = await fs.mkdtemp(path.join(home, 'lib.partial-'));
  try {
    await runCommand(
      'mvn',
      ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`],
      { cwd: home, what: `Downloading Cassandra ${CASSANDRA_VERSION} jars with Maven` },
    );
    const jars = (await fs.readdir(staging)).filter((f) => f.endsWith('.jar'));
    if (!jars.includes(`cassandra-all-${CASSANDRA_VERSION}.jar`)) {
      throw new Error(`Maven finished but cassandra-all-${CASSANDRA_VERSION}.jar is missing from ${staging}`);
    }
    // Another process may have completed the same download meanwhile.
    if (!existsSync(marker)) {
      await fs.rm(lib, { recursive: true, force: true });
      await fs.rename(staging, lib);
      await fs.chmod(lib, 0o755); // mkdtemp creates it owner-only
      await fs.writeFile(marker, `${jars.length} jars, ${new Date().toISOString()}\n`);
    }
    log(`cassandra: downloaded ${jars.length} jars in ${seconds(Date.now() - started)}`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  return lib;
}

const clusterName = (name) => `local-${name}`;

function cassandraYaml({ name, cqlPort, storagePort, dirs }) {
  return `# Generated by libs/infra/cassandra.mjs on every start; edits are overwritten.
cluster_name: '${clusterName(name)}'
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: '127.0.0.1:${storagePort}'
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: ${storagePort}
native_transport_port: ${cqlPort}
start_native_transport: true

data_file_directories:
  - '${dirs.data}'
commitlog_directory: '${dirs.commitlog}'
hints_directory: '${dirs.hints}'
saved_caches_directory: '${dirs.savedCaches}'
cdc_raw_directory: '${dirs.cdcRaw}'
commitlog_sync: periodic
commitlog_sync_period: 10000ms

# base's logged batches of bindings are cut at 32 KiB by design (apps/base/src/storage/batch-size.ts),
# far under the 50 KiB refusal limit; the default 5 KiB warning would log every one of them.
batch_size_warn_threshold: 32KiB

auto_snapshot: false
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer

# Cassandra 5.0 defaults to CASSANDRA_4 so that an upgraded cluster can still be
# rolled back; a brand-new dev node has nothing to roll back to, and NONE turns
# on the 5.0-only storage formats and features.
storage_compatibility_mode: NONE
`;
}

const xmlEscape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function logbackXml(logFile) {
  return `<!-- Generated by libs/infra/cassandra.mjs on every start; edits are overwritten. -->
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${xmlEscape(logFile)}</file>
    <append>false</append>
    <encoder>
      <pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern>
    </encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter">
      <level>ERROR</level>
    </filter>
    <encoder>
      <pattern>%-5level %logger{0} - %msg%n</pattern>
    </encoder>
  </appender>
  <root level="WARN">
    <appender-ref ref="FILE" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
`;
}

function javaExecutable() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

// Flags from Cassandra 5.0's conf/jvm-server.options, conf/jvm17-server.options
// and conf/cassandra-env.sh, minus production-only tuning (-XX:+AlwaysPreTouch)
// and what needs files the Maven artifacts don't ship
// (-XX:CompileCommandFile=hotspot_compiler, the sigar-bin library path).
// No -Xmn: cassandra-env.sh refuses to combine it with G1.
const JVM_SERVER_OPTIONS = [
  '-ea',
  '-da:net.openhft...',
  '-XX:+UseThreadPriorities',
  '-XX:+HeapDumpOnOutOfMemoryError',
  '-Xss256k',
  '-XX:+UseTLAB',
  '-XX:+ResizeTLAB',
  '-XX:+UseNUMA',
  '-XX:+PerfDisableSharedMem',
  '-Djava.net.preferIPv4Stack=true',
];

const JVM17_SERVER_OPTIONS = [
  // G1, not a concurrent collector: with 2 GiB on 2 cores, a bulk load of 1M users drove Shenandoah
  // into degenerated and full collections of 0.3–0.9 s and ZGC (one generation on JDK 17) into
  // hundreds of allocation stalls of up to 1 s, each for 55–70 % more CPU; in steady reads G1
  // pauses minutes apart for a few ms (docs/benchmarks.md, figure l).
  '-XX:+UseG1GC',
  '-XX:+ParallelRefProcEnabled',
  '-XX:MaxTenuringThreshold=1',
  '-XX:G1HeapRegionSize=16m',
  '-XX:G1RSetUpdatingPauseTimePercent=5',
  // Cassandra ships 300 ms, a throughput setting: G1 then sizes the 2 GiB heap's young generation
  // for pauses that long, and reads waiting behind one show in main's p99. One data benchmark on an
  // idle box with 50: login p99 34.6 ms (85–90 with 300), creation 12,643 users/s (8,528–10,357).
  '-XX:MaxGCPauseMillis=50',
  '-XX:InitiatingHeapOccupancyPercent=70',
  '-Djdk.attach.allowAttachSelf=true',
  ...[
    'java.base/jdk.internal.misc',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.rmi/sun.rmi.registry',
    'java.rmi/sun.rmi.server',
    'java.sql/java.sql',
    'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc',
    'jdk.compiler/com.sun.tools.javac.file',
    'jdk.attach/sun.tools.attach',
  ].flatMap((pkg) => ['--add-exports', `${pkg}=ALL-UNNAMED`]),
  ...[
    'java.base/java.lang.module',
    'java.base/jdk.internal.loader',
    'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect',
    'java.base/jdk.internal.math',
    'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar',
    'jdk.management/com.sun.management.internal',
    'java.base/sun.nio.ch',
    'java.base/java.io',
    'java.base/java.lang.reflect',
    'jdk.compiler/com.sun.tools.javac',
    'java.base/java.lang',
    'java.base/java.util',
  ].flatMap((pkg) => ['--add-opens', `${pkg}=ALL-UNNAMED`]),
  '-Dio.netty.tryReflectionSetAccessible=true',
  '-Dio.netty.allocator.useCacheForAllThreads=true',
  '-Dio.netty.allocator.maxOrder=11',
];

/** Where instance `name` keeps its data, configuration and logs. */
function instanceDir(root, name) {
  return path.join(root, '.cache', 'cassandra', `data-${name}`);
}

/** The node's GC log (pauses and safepoints, with wall-clock times), as cassandra-env.sh writes one. */
export function cassandraGcLog(root, name) {
  return path.join(instanceDir(root, name), 'logs', 'gc.log');
}

function jvmArgs({ lib, dirs, gcLog }) {
  return [
    // cassandra-env.sh's GC log, at info only: one line a pause or safepoint, rotated at 10 MB.
    `-Xlog:gc=info,safepoint=info:file=${gcLog}:time,uptime,level,tags:filecount=5,filesize=10485760`,
    // 2 GiB: memtables of 512 MiB flush half as often as with 1 GiB, so a bulk load leaves fewer,
    // larger sstables to compact (500,000 users: compaction 10.3 → 4.6 CPU-s, GC 5.7 → 3.8).
    '-Xms2G',
    '-Xmx2G',
    ...JVM_SERVER_OPTIONS,
    ...JVM17_SERVER_OPTIONS,
    `-XX:HeapDumpPath=${dirs.logs}`,
    '-XX:OnOutOfMemoryError=kill -9 %p',
    `-javaagent:${path.join(lib, 'jamm-0.4.0.jar')}`,
    // No JMX: without cassandra.jmx.{local,remote}.port the daemon opens no JMX
    // port, so any number of nodes can run side by side (nodetool won't work).
    `-Dcassandra.config=${pathToFileURL(path.join(dirs.conf, 'cassandra.yaml')).href}`,
    `-Dlogback.configurationFile=${path.join(dirs.conf, 'logback.xml')}`,
    `-Dcassandra.logdir=${dirs.logs}`,
    `-Dcassandra.storagedir=${dirs.root}`,
    '-Dcassandra-foreground=yes',
    // Single-node fast start.
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    '-Dcassandra.initial_token=0',
    '-Dcassandra.load_ring_state=false',
    '-cp',
    `${dirs.conf}${path.delimiter}${path.join(lib, '*')}`,
    'org.apache.cassandra.service.CassandraDaemon',
  ];
}

function readTail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// The pid file alone could name an unrelated process after a crash and PID reuse,
// so where /proc exists the process must also be a JVM using this node's config.
function isRunningNode(pid, confDir) {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(confDir);
  } catch (err) {
    return err.code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

function assertNotAlreadyRunning(pidFile, confDir, name) {
  let pid;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && isRunningNode(pid, confDir)) {
    throw new Error(
      `Cassandra '${name}' is already running (pid ${pid}) on the same data directory; stop it first (kill ${pid})`,
    );
  }
}

/**
 * Starts a single-node Cassandra whose data lives in
 * <root>/.cache/cassandra/data-<name>/ (kept between runs unless `fresh`), and
 * resolves once it answers CQL queries.
 */
export async function startCassandra({
  root,
  name,
  cqlPort = 9042,
  storagePort = 7000,
  fresh = false,
  startupTimeoutMs = STARTUP_TIMEOUT_MS,
  log = () => {},
}) {
  if (!/^[\w-]+$/.test(name))
    throw new Error(`Invalid Cassandra instance name '${name}' (use letters, digits, - and _)`);
  const lib = await ensureCassandraJars({ root, log });

  const base = instanceDir(root, name);
  const dirs = {
    root: base,
    conf: path.join(base, 'conf'),
    logs: path.join(base, 'logs'),
    data: path.join(base, 'data'),
    commitlog: path.join(base, 'commitlog'),
    hints: path.join(base, 'hints'),
    savedCaches: path.join(base, 'saved_caches'),
    cdcRaw: path.join(base, 'cdc_raw'),
  };
  const pidFile = path.join(base, 'cassandra.pid');
  const logFile = path.join(dirs.logs, 'system.log');

  assertNotAlreadyRunning(pidFile, dirs.conf, name);
  await assertPortFree(cqlPort, `Cassandra '${name}' CQL`);
  await assertPortFree(storagePort, `Cassandra '${name}' internode storage`);

  if (fresh) await fs.rm(base, { recursive: true, force: true });
  await Promise.all(Object.values(dirs).map((dir) => fs.mkdir(dir, { recursive: true })));
  await fs.writeFile(path.join(dirs.conf, 'cassandra.yaml'), cassandraYaml({ name, cqlPort, storagePort, dirs }));
  await fs.writeFile(path.join(dirs.conf, 'logback.xml'), logbackXml(logFile));

  const started = Date.now();
  log(`cassandra: starting '${name}' (${fresh ? 'fresh' : 'reusing data'}) on 127.0.0.1:${cqlPort}…`);
  const child = trackChild(
    spawn(javaExecutable(), jvmArgs({ lib, dirs, gcLog: cassandraGcLog(root, name) }), {
      cwd: base, // heap dumps and hs_err files land here, not in the caller's cwd
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MALLOC_ARENA_MAX: '4' },
    }),
  );
  let spawnError;
  child.once('error', (err) => {
    spawnError = err;
  });

  // Cassandra's stdout only carries ERROR lines (see logback.xml); the JVM itself
  // reports fatal startup problems on stderr. Both are surfaced through `log`,
  // except the JDK 17 deprecation notice Cassandra 5.0 triggers on every start.
  const output = lineBuffer(LOG_TAIL_LINES);
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      output.push(`${line}\n`);
      if (!KNOWN_JVM_NOISE.test(line)) log(`cassandra[${name}]: ${line}`);
    });
  }

  if (child.pid !== undefined) {
    await fs.writeFile(pidFile, `${child.pid}\n`);
    child.once('exit', () => rmSync(pidFile, { force: true }));
  }

  const failure = (reason) => {
    const sections = [`Cassandra '${name}' ${reason}.`];
    const logTail = readTail(logFile, LOG_TAIL_LINES);
    if (logTail) sections.push(`Last lines of ${logFile}:\n${logTail}`);
    const outputTail = output.text();
    if (outputTail) sections.push(`JVM output:\n${outputTail}`);
    return new Error(sections.join('\n'));
  };

  let version;
  for (;;) {
    if (spawnError) {
      throw spawnError.code === 'ENOENT'
        ? new Error(
            `Cannot start Cassandra: '${javaExecutable()}' not found (install Java 17, or point JAVA_HOME at one)`,
          )
        : failure(`could not be started: ${spawnError.message}`);
    }
    if (hasExited(child)) {
      throw failure(`exited during startup (${child.signalCode ?? `exit code ${child.exitCode}`})`);
    }
    if (Date.now() - started > startupTimeoutMs) {
      await stopChild(child, STOP_GRACE_MS);
      throw failure(`did not accept CQL queries within ${seconds(startupTimeoutMs)}`);
    }
    try {
      const local = await queryLocalNode(cqlPort);
      // Guards against answering for some other node that grabbed the port first.
      if (local?.cluster_name === clusterName(name)) {
        version = local.release_version;
        break;
      }
    } catch {
      // Not accepting CQL yet.
    }
    await sleep(500);
  }

  log(`cassandra: ready on 127.0.0.1:${cqlPort} in ${seconds(Date.now() - started)} (Cassandra ${version})`);
  return {
    contactPoint: `127.0.0.1:${cqlPort}`,
    localDc: LOCAL_DC,
    pid: child.pid,
    logFile,
    stop: () => stopChild(child, STOP_GRACE_MS),
  };
}
