import path from 'node:path';
import type { KubeObject } from './kube-api.js';

/** What the kubelet stand-in reads of a pod: loosely typed pod spec pieces. */
export type Pod = KubeObject;
export type Container = Record<string, any>;

/** A ConfigMap's or Secret's data (Secret values decoded), or undefined when it does not exist. */
export interface EnvSources {
  configMap(namespace: string, name: string): Record<string, string> | undefined;
  secret(namespace: string, name: string): Record<string, string> | undefined;
}

/** The container cannot start yet: a referenced ConfigMap, Secret or key is missing (CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

/** A downward-API field of the pod (`fieldRef.fieldPath`). */
export function fieldValue(pod: Pod, fieldPath: string): string {
  const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (label) return (pod.metadata[label[1] as 'labels' | 'annotations'] ?? {})[label[2]!] ?? '';
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  if (!(fieldPath in fields)) throw new ContainerConfigError(`unsupported downward API field ${fieldPath}`);
  return fields[fieldPath] ?? '';
}

/** `$(NAME)` expands to an earlier variable, `$$(NAME)` is a literal `$(NAME)`, unknown names stay as written. */
export function expandVariables(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}

/**
 * The environment Kubernetes gives `container`: `envFrom` first (ConfigMaps and Secrets, with
 * prefixes), then `env` (values with `$(VAR)` expansion, downward API fields, ConfigMap and Secret
 * keys), later entries winning. A missing non-optional source throws ContainerConfigError.
 */
export function containerEnv(pod: Pod, container: Container, sources: EnvSources): Record<string, string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {};
  const lookup = (kind: 'configMap' | 'secret', name: string, optional: boolean) => {
    const data = sources[kind](namespace, name);
    if (data === undefined && !optional) throw new ContainerConfigError(`${kind} "${name}" not found`);
    return data;
  };
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const data = lookup(from.configMapRef ? 'configMap' : 'secret', ref.name, ref.optional === true);
    for (const [key, value] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expandVariables(variable.value ?? '', env);
      continue;
    }
    if (from.fieldRef) {
      env[variable.name] = fieldValue(pod, from.fieldRef.fieldPath);
      continue;
    }
    const keyRef = from.configMapKeyRef ?? from.secretKeyRef;
    if (!keyRef) throw new ContainerConfigError(`unsupported valueFrom for ${variable.name}`);
    const kind = from.configMapKeyRef ? 'configMap' : 'secret';
    const data = lookup(kind, keyRef.name, keyRef.optional === true);
    const value = data?.[keyRef.key];
    if (value === undefined) {
      if (keyRef.optional === true) continue;
      throw new ContainerConfigError(`key "${keyRef.key}" not found in ${kind} "${keyRef.name}"`);
    }
    env[variable.name] = value;
  }
  return env;
}

/** The image's working directory, environment and default command (the repository's Dockerfile). */
export const IMAGE_WORKDIR = '/app';
export const IMAGE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production' };
export const IMAGE_CMD: readonly string[] = ['node', 'apps/stream/dist/main.js'];

/**
 * The program and arguments to run for `container`, as the image would: `command` + `args` (or the
 * image's CMD), `$(VAR)` expanded; `node` is this Node.js; paths inside a volume mount point into
 * the local directory that holds that volume, and paths under the image's working directory into
 * the checkout (`root`), which is also the working directory.
 */
export function commandLine(
  container: Container,
  env: Readonly<Record<string, string>>,
  mounts: ReadonlyArray<{ mountPath: string; localDir: string }>,
  root: string,
  node = process.execPath,
): { file: string; args: string[] } {
  const argv = [...(container.command ?? IMAGE_CMD), ...(container.args ?? [])].map((arg: string) => {
    const expanded = expandVariables(arg, env);
    for (const mount of mounts) {
      const base = mount.mountPath.replace(/\/$/, '');
      if (expanded === base || expanded.startsWith(`${base}/`)) return mount.localDir + expanded.slice(base.length);
    }
    if (expanded === IMAGE_WORKDIR || expanded.startsWith(`${IMAGE_WORKDIR}/`)) {
      return path.join(root, expanded.slice(IMAGE_WORKDIR.length));
    }
    return expanded;
  });
  const [program, ...args] = argv;
  if (!program) throw new ContainerConfigError(`container ${container.name} has no command`);
  return { file: program === 'node' ? node : program, args };
}

/** A probe resolved to what the prober does. */
export interface ProbePlan {
  readonly kind: 'http' | 'tcp';
  readonly port: number;
  readonly path: string;
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/** A container port by number, or by the name of one of the container's ports. */
export function resolvePort(container: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p: any) => p.name === port);
  if (!named) throw new ContainerConfigError(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

/** The probe plan of `probe` (Kubernetes' defaults where a field is left out), or undefined if none. */
export function probePlan(container: Container, probe: any): ProbePlan | undefined {
  if (!probe) return undefined;
  const handler = probe.httpGet ?? probe.tcpSocket;
  if (!handler)
    throw new ContainerConfigError(`container ${container.name}: only httpGet and tcpSocket probes run here`);
  return {
    kind: probe.httpGet ? 'http' : 'tcp',
    port: resolvePort(container, handler.port),
    path: probe.httpGet?.path ?? '/',
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/**
 * Consecutive results against a probe's thresholds: the verdict changes only after
 * `successThreshold` successes or `failureThreshold` failures in a row.
 */
export class ProbeVerdict {
  private successes = 0;
  private failures = 0;

  constructor(
    private readonly plan: Pick<ProbePlan, 'successThreshold' | 'failureThreshold'>,
    public passing = false,
  ) {}

  /** Records one result; returns true when the verdict changed. */
  record(ok: boolean): boolean {
    if (ok) {
      this.failures = 0;
      this.successes += 1;
      if (!this.passing && this.successes >= this.plan.successThreshold) return (this.passing = true);
    } else {
      this.successes = 0;
      this.failures += 1;
      if (this.passing && this.failures >= this.plan.failureThreshold) {
        this.passing = false;
        return true;
      }
    }
    return false;
  }

  /** True once `failureThreshold` failures came in a row (a startup probe that gives up). */
  get exhausted(): boolean {
    return this.failures >= this.plan.failureThreshold;
  }
}

/** Restart delay after the `restarts`-th crash: 1 s doubling to 30 s (the kubelet's 10 s to 5 min, shortened for a local run). */
export function restartDelayMs(restarts: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, restarts));
}

/** How a container is stopped: the preStop sleep, then SIGTERM, then SIGKILL at the grace deadline. */
export function terminationPlan(pod: Pod, container: Container): { preStopMs: number; graceMs: number } {
  const graceSeconds = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
  const preStop = container.lifecycle?.preStop;
  if (preStop && !preStop.sleep)
    throw new ContainerConfigError(`container ${container.name}: only the preStop sleep action runs here`);
  return { preStopMs: (preStop?.sleep?.seconds ?? 0) * 1000, graceMs: graceSeconds * 1000 };
}

/** Whether `image` is this repository's image (which runs from the checkout). */
export function isProjectImage(image: string | undefined): boolean {
  const withoutTag = (image ?? '').split('@')[0]!.replace(/:[^/:]+$/, '');
  return withoutTag.split('/').pop() === 'kubescaler';
}
