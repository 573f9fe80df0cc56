import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, seen from test/dist/k8s/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A Kubernetes object as rendered (loosely typed on purpose: the schemas are checked separately). */
export type K8sObject = Record<string, any>;

export interface ToolPaths {
  kustomize: string;
  python: string;
  validator: string;
  kubernetesVersions: string[];
}

export interface RenderedOverlay {
  name: string;
  objects: K8sObject[];
  /** Strict schema violations, one line each; empty when every object is valid. */
  problems: string[];
  /** Parsed YAML files held in ConfigMaps, keyed `ConfigMap/<name>/<key>`. */
  embedded: Record<string, any>;
}

export interface Completed {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output; never throws on a non-zero exit. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Completed> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) {
      // A child that exits without reading everything must fail the assertion, not the process.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
  });
}

/** Installs (once, cached in .cache/k8s-tools) and locates kustomize and the strict validator. */
export async function ensureTools(): Promise<ToolPaths> {
  const result = await runCommand(process.execPath, [path.join(ROOT, 'scripts', 'k8s-tools.mjs')]);
  if (result.code !== 0) throw new Error(`scripts/k8s-tools.mjs failed:\n${result.stderr}`);
  // Only the one-time install says anything: keep its timings in the test log.
  if (result.stderr) process.stderr.write(result.stderr);
  return JSON.parse(result.stdout) as ToolPaths;
}

/** The throwaway token written into the temporary copy's admin-token.env files. */
export const THROWAWAY_ADMIN_TOKEN = 'throwaway-test-token-0123456789abcdef';
/** The throwaway user-token secret written into the temporary copy's auth-secret.env files. */
export const THROWAWAY_AUTH_SECRET = 'throwaway-user-token-secret-0123456789abcdef';
/** The generated secret files the overlays read and git never holds. */
export const SECRET_FILES = ['admin-token.env', 'auth-secret.env', 'internal-token.env'] as const;
/** The throwaway internal service credential written into the temporary copy's internal-token.env files. */
export const THROWAWAY_INTERNAL_TOKEN = 'throwaway-internal-token-0123456789abcdef';

/**
 * Renders each overlay from a temporary copy of k8s/ (with throwaway secret files, which
 * the real tree never commits) and validates every object strictly for every Kubernetes version.
 */
export async function renderOverlays(tools: ToolPaths, overlays: readonly string[]): Promise<RenderedOverlay[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'kubescaler-k8s-'));
  try {
    cpSync(path.join(ROOT, 'k8s'), path.join(work, 'k8s'), {
      recursive: true,
      filter: (source) => !(SECRET_FILES as readonly string[]).includes(path.basename(source)),
    });
    return await Promise.all(
      overlays.map(async (name) => {
        const dir = path.join(work, 'k8s', 'overlays', name);
        writeFileSync(path.join(dir, 'admin-token.env'), `ADMIN_TOKEN=${THROWAWAY_ADMIN_TOKEN}\n`);
        writeFileSync(path.join(dir, 'internal-token.env'), `INTERNAL_TOKEN=${THROWAWAY_INTERNAL_TOKEN}\n`);
        writeFileSync(path.join(dir, 'auth-secret.env'), `AUTH_JWT_SECRET=${THROWAWAY_AUTH_SECRET}\n`);
        const built = await runCommand(tools.kustomize, ['build', dir]);
        if (built.code !== 0) throw new Error(`kustomize build overlays/${name} failed:\n${built.stderr}`);
        const checked = await runCommand(
          tools.python,
          [tools.validator, '--versions', tools.kubernetesVersions.join(',')],
          { input: built.stdout },
        );
        if (checked.code !== 0) throw new Error(`validating overlays/${name} failed:\n${checked.stderr}`);
        return { name, ...(JSON.parse(checked.stdout) as Omit<RenderedOverlay, 'name'>) };
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function readRepoFile(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

/** Objects of one kind (and, optionally, one name) in an overlay. */
export function ofKind(overlay: RenderedOverlay, kind: string): K8sObject[] {
  return overlay.objects.filter((obj) => obj.kind === kind);
}

export function named(overlay: RenderedOverlay, kind: string, name: string): K8sObject {
  const found = overlay.objects.find((obj) => obj.kind === kind && obj.metadata?.name === name);
  if (!found) throw new Error(`overlays/${overlay.name} has no ${kind}/${name}`);
  return found;
}

/** The workloads whose pod templates run containers. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job'] as const;

export interface Workload {
  obj: K8sObject;
  podSpec: K8sObject;
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
}

export function workloads(overlay: RenderedOverlay): Workload[] {
  return overlay.objects
    .filter((obj) => (WORKLOAD_KINDS as readonly string[]).includes(obj.kind))
    .map((obj) => ({
      obj,
      podSpec: obj.spec.template.spec,
      podLabels: obj.spec.template.metadata?.labels ?? {},
      podAnnotations: obj.spec.template.metadata?.annotations ?? {},
    }));
}

export function workload(overlay: RenderedOverlay, name: string): Workload {
  const found = workloads(overlay).find((w) => w.obj.metadata.name === name);
  if (!found) throw new Error(`overlays/${overlay.name} has no workload ${name}`);
  return found;
}

/** Every container of a pod spec, init containers included. */
export function allContainers(podSpec: K8sObject): K8sObject[] {
  return [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The ConfigMap or Secret a generator produced (its name carries a content hash suffix). */
export function generated(overlay: RenderedOverlay, kind: 'ConfigMap' | 'Secret', baseName: string): K8sObject {
  const found = overlay.objects.filter(
    (obj) => obj.kind === kind && new RegExp(`^${baseName}-[a-z0-9]{10}$`).test(obj.metadata.name),
  );
  if (found.length !== 1) throw new Error(`overlays/${overlay.name}: expected one generated ${kind} ${baseName}`);
  return found[0];
}

/** Resolves a container port given by number or name. */
export function containerPort(container: K8sObject, port: number | string): K8sObject | undefined {
  return (container.ports ?? []).find((p: K8sObject) => p.containerPort === port || p.name === port);
}
