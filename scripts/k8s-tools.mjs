// Offline Kubernetes tooling for the manifest tests, installed once into .cache/k8s-tools/:
//   - kustomize (pinned), built from its Go module with the local Go toolchain;
//   - a Python venv with kubernetes-validate (pinned, with every dependency pinned), whose bundled
//     JSON schemas validate objects strictly (unknown fields are errors) without a cluster.
// `node scripts/k8s-tools.mjs` installs what is missing and prints {"kustomize", "python",
// "validator", "kubernetesVersions"} as JSON on stdout (progress goes to stderr).
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runCollecting } from '../libs/infra/children.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache', 'k8s-tools');

export const KUSTOMIZE_MODULE = 'sigs.k8s.io/kustomize/kustomize/v5';
/** v5.8.1 builds with Go >= 1.24 (v5.8.2 needs 1.26, v5.8.3 needs 1.27). */
export const KUSTOMIZE_VERSION = 'v5.8.1';

/** kubernetes-validate 1.37.0 bundles schemas for Kubernetes 1.25 to 1.37. */
const VALIDATE_REQUIREMENTS = [
  'kubernetes-validate==1.37.0',
  'attrs==26.1.0',
  'importlib_resources==7.1.0',
  'jsonschema==4.26.0',
  'jsonschema-specifications==2025.9.1',
  'packaging==26.3',
  'PyYAML==6.0.3',
  'referencing==0.37.0',
  'rpds-py==2026.9.1',
  'typing_extensions==4.16.0',
];
const VALIDATE_DIR_NAME = 'kubernetes-validate-1.37.0-r1';

/** Every Kubernetes minor the manifests must be valid for: the oldest we support to the newest schema. */
export const KUBERNETES_VERSIONS = ['1.30.0', '1.31.0', '1.32.0', '1.33.0', '1.34.0', '1.35.0', '1.36.0', '1.37.0'];

const log = (line) => process.stderr.write(`[k8s-tools] ${line}\n`);

/** Runs a command, collecting its output; rejects with the output's tail on failure. */
export async function run(command, args, options = {}) {
  const result = await runCollecting(command, args, { cwd: ROOT, ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (!result.ok) {
    const how = result.signal ?? `exit ${result.code}`;
    throw new Error(`${command} ${args.join(' ')} failed (${how}):\n${result.output.slice(-4000)}`);
  }
  return result.output;
}

/** Builds into a temporary directory and renames it into place, so a half-done install never counts. */
export async function installOnce(finalDir, marker, install) {
  if (existsSync(path.join(finalDir, marker))) return;
  const temp = `${finalDir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    await install(temp);
    writeFileSync(path.join(temp, marker), new Date().toISOString());
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(temp, finalDir);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

/** The Go toolchain: the official install when present, else whatever `go` is on PATH. */
export function goCommand() {
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
}

async function ensureKustomize() {
  const dir = path.join(CACHE, `kustomize-${KUSTOMIZE_VERSION}`);
  await installOnce(dir, '.installed', async (temp) => {
    const started = Date.now();
    log(`installing kustomize ${KUSTOMIZE_VERSION} with go install (one time)…`);
    await run(goCommand(), ['install', `${KUSTOMIZE_MODULE}@${KUSTOMIZE_VERSION}`], {
      // GOTOOLCHAIN=local: never download a Go toolchain; CGO off: a static binary, no C compiler.
      env: { ...process.env, GOBIN: temp, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '' },
    }).catch((error) => {
      throw new Error(`Go is needed to build kustomize (${KUSTOMIZE_MODULE}@${KUSTOMIZE_VERSION}): ${error.message}`);
    });
    log(`kustomize installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  return path.join(dir, 'kustomize');
}

async function ensureValidator() {
  const dir = path.join(CACHE, VALIDATE_DIR_NAME);
  await installOnce(dir, '.installed', async (temp) => {
    const started = Date.now();
    log('installing kubernetes-validate into a venv (one time)…');
    await run('python3', ['-m', 'venv', temp]).catch((error) => {
      throw new Error(`Python 3 with venv is needed for kubernetes-validate: ${error.message}`);
    });
    await run(path.join(temp, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '--quiet',
      '--prefer-binary',
      ...VALIDATE_REQUIREMENTS,
    ]);
    log(`kubernetes-validate installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  // A venv records its own absolute path, so it is used where it was built (renamed only once,
  // before first use, from the temporary name: its scripts are not used, only its python).
  return path.join(dir, 'bin', 'python');
}

/** Installs what is missing (in parallel) and returns the tool paths. */
export async function ensureK8sTools() {
  mkdirSync(CACHE, { recursive: true });
  const [kustomize, python] = await Promise.all([ensureKustomize(), ensureValidator()]);
  return {
    kustomize,
    python,
    validator: path.join(ROOT, 'scripts', 'k8s-validate.py'),
    kubernetesVersions: KUBERNETES_VERSIONS,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${JSON.stringify(await ensureK8sTools())}\n`);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
