import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { Informer, KubeApiError, type KubeApi } from './kube-api.js';
import {
  commandLine,
  type Container,
  ContainerConfigError,
  containerEnv,
  type EnvSources,
  IMAGE_ENV,
  isProjectImage,
  type Pod,
  probePlan,
  type ProbePlan,
  ProbeVerdict,
  restartDelayMs,
  terminationPlan,
} from './pod-spec.js';
import { ManagedProcess } from './processes.js';
import { rewriteServiceAddresses, type ServiceRef } from './service-names.js';

export interface KubeletOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  /** The checkout: the image's working directory. */
  readonly root: string;
  /** Where pods' volumes and container logs go (`<ns>_<pod>/`). */
  readonly dataDir: string;
  /** The local address of a Service port (the Service proxy). */
  readonly resolveService: (service: ServiceRef, port: number) => string | undefined;
  readonly log: (line: string) => void;
}

/** A container process of a pod, for reports. */
export interface PodProcess {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly pid: number | undefined;
  readonly podIP: string;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; startedAt?: string; finishedAt: string; signal?: number } };

interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  state: ContainerState;
  lastState: ContainerState | Record<string, never>;
  ready: boolean;
  started: boolean;
  restartCount: number;
}

const now = () => new Date().toISOString();
/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((done) => {
    if (signal?.aborted) return done();
    const onAbort = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The kubelet stand-in of the KWOK node: for every pod bound to the node it runs the pod's
 * containers as real processes of this checkout (init containers to completion, then the
 * containers), with the pod's environment (ConfigMaps, Secrets and downward API resolved,
 * Service addresses mapped to the Service proxy), listening on the pod IP KWOK assigned; it
 * reports container states and the Ready condition from the pod's own readiness probe, and on
 * deletion runs the preStop sleep, sends SIGTERM and SIGKILLs at the grace deadline. Test
 * support, not product: only the kubescaler image runs here.
 */
export class Kubelet {
  private readonly workers = new Map<string, PodWorker>();
  private readonly informer: Informer;

  constructor(private readonly options: KubeletOptions) {
    this.informer = new Informer(
      options.api,
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${options.nodeName}`)}`,
      {
        onChange: (pod) => this.onPod(pod),
        onDelete: (pod) => this.workers.get(pod.metadata.uid!)?.forceStop(),
      },
      (error) => options.log(`kubelet watch: ${String(error)}`),
    );
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  /** Every container process running now. */
  processes(): PodProcess[] {
    return [...this.workers.values()].flatMap((worker) => worker.processes());
  }

  /** Stops every pod's processes (SIGTERM, SIGKILL after at most `graceMs`), without touching the API. */
  async stop(graceMs = 15_000): Promise<void> {
    await this.informer.stop();
    await Promise.all([...this.workers.values()].map((worker) => worker.shutdown(graceMs)));
  }

  private onPod(pod: Pod): void {
    const uid = pod.metadata.uid!;
    let worker = this.workers.get(uid);
    if (!worker) {
      if (['Succeeded', 'Failed'].includes(pod.status?.phase)) return;
      worker = new PodWorker(pod, this.options, () => this.workers.delete(uid));
      this.workers.set(uid, worker);
    }
    worker.update(pod);
  }
}

/** One pod's lifecycle. */
class PodWorker {
  private pod: Pod;
  private readonly abort = new AbortController();
  private readonly running = new Map<string, ManagedProcess>();
  private readonly statuses = new Map<string, ContainerStatus>();
  private readonly initStatuses = new Map<string, ContainerStatus>();
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  private initialized = false;
  private terminating: Promise<void> | undefined;
  private publishing: Promise<void> = Promise.resolve();
  private publishQueued = false;
  private started = false;
  private readonly dir: string;
  private readonly label: string;

  constructor(
    pod: Pod,
    private readonly options: KubeletOptions,
    private readonly onGone: () => void,
  ) {
    this.pod = pod;
    this.label = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.dir = path.join(options.dataDir, `${pod.metadata.namespace}_${pod.metadata.name}`);
    for (const container of pod.spec.initContainers ?? [])
      this.initStatuses.set(container.name, this.freshStatus(container));
    for (const container of pod.spec.containers) this.statuses.set(container.name, this.freshStatus(container));
  }

  update(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp) {
      this.terminating ??= this.terminate();
      return;
    }
    if (!this.started && pod.status?.podIP) {
      this.started = true;
      void this.run().catch((error) =>
        this.options.log(`${this.label}: ${error instanceof Error ? error.message : error}`),
      );
    }
  }

  processes(): PodProcess[] {
    return [...this.running.entries()].map(([container, child]) => ({
      namespace: this.pod.metadata.namespace!,
      pod: this.pod.metadata.name,
      container,
      pid: child.pid,
      podIP: this.pod.status?.podIP,
    }));
  }

  /** The pod object is gone (force-deleted): kill what still runs. */
  forceStop(): void {
    this.abort.abort();
    for (const child of this.running.values()) child.child.kill('SIGKILL');
    this.onGone();
  }

  /** The stand-in stops: end the processes, leave the API alone. */
  async shutdown(graceMs: number): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.running.values()].map((child) => child.stop(graceMs)));
  }

  private freshStatus(container: Container): ContainerStatus {
    return {
      name: container.name,
      image: container.image,
      imageID: '',
      state: { waiting: { reason: 'PodInitializing' } },
      lastState: {},
      ready: false,
      started: false,
      restartCount: 0,
    };
  }

  private async run(): Promise<void> {
    const spec = this.pod.spec;
    const all: Container[] = [...(spec.initContainers ?? []), ...spec.containers];
    const foreign = all.find((container) => !isProjectImage(container.image));
    if (foreign) {
      // As with imagePullPolicy: Never and an image the node does not have.
      for (const status of [...this.initStatuses.values(), ...this.statuses.values()]) {
        status.state = {
          waiting: {
            reason: 'ErrImageNeverPull',
            message: `only the kubescaler image runs on this node, not ${foreign.image}`,
          },
        };
      }
      this.publish();
      return;
    }
    const mounts = await this.prepareVolumes();
    for (const container of spec.initContainers ?? []) {
      const status = this.initStatuses.get(container.name)!;
      for (;;) {
        if (this.abort.signal.aborted) return;
        const code = await this.runToCompletion(container, status, mounts);
        if (code === 0 || this.abort.signal.aborted) break;
        if (spec.restartPolicy === 'Never') return this.finish('Failed');
        status.restartCount += 1;
        await sleep(restartDelayMs(status.restartCount - 1), this.abort.signal);
      }
    }
    if (this.abort.signal.aborted) return;
    this.initialized = true;
    await Promise.all(spec.containers.map((container: Container) => this.keepRunning(container, mounts)));
  }

  /** Materializes configMap, secret and emptyDir volumes; other kinds cannot run here. */
  private async prepareVolumes(): Promise<Array<{ name: string; localDir: string }>> {
    const volumes: Array<{ name: string; localDir: string }> = [];
    for (const volume of this.pod.spec.volumes ?? []) {
      const localDir = path.join(this.dir, 'volumes', volume.name);
      mkdirSync(localDir, { recursive: true });
      const source = volume.configMap ?? volume.secret;
      if (source) {
        const kind = volume.configMap ? 'configMap' : 'secret';
        const name = source.name ?? source.secretName;
        let data: Record<string, string> | undefined;
        for (;;) {
          data = await this.source(kind, name);
          if (data || source.optional || this.abort.signal.aborted) break;
          this.setWaitingAll('ContainerCreating', `${kind} "${name}" not found`);
          await sleep(2000, this.abort.signal);
        }
        const items: Array<{ key: string; path: string }> =
          source.items ?? Object.keys(data ?? {}).map((key) => ({ key, path: key }));
        for (const item of items) {
          const file = path.join(localDir, item.path);
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, data?.[item.key] ?? '');
        }
      } else if (!volume.emptyDir) {
        throw new Error(`volume ${volume.name}: only configMap, secret and emptyDir volumes run here`);
      }
      volumes.push({ name: volume.name, localDir });
    }
    return volumes;
  }

  private async source(kind: 'configMap' | 'secret', name: string): Promise<Record<string, string> | undefined> {
    const ns = this.pod.metadata.namespace;
    const object = await this.options.api.find(
      `/api/v1/namespaces/${ns}/${kind === 'configMap' ? 'configmaps' : 'secrets'}/${name}`,
    );
    if (!object) return undefined;
    if (kind === 'configMap') return { ...(object.data ?? {}) };
    return Object.fromEntries(
      Object.entries((object.data ?? {}) as Record<string, string>).map(([key, value]) => [
        key,
        Buffer.from(value, 'base64').toString('utf8'),
      ]),
    );
  }

  /** The process of one container, with env and mounts resolved; waits while a source is missing. */
  private async spawn(
    container: Container,
    status: ContainerStatus,
    volumes: Array<{ name: string; localDir: string }>,
  ): Promise<ManagedProcess | undefined> {
    for (;;) {
      if (this.abort.signal.aborted) return undefined;
      const cache = new Map<string, Record<string, string> | undefined>();
      for (const from of container.envFrom ?? []) {
        const ref = from.configMapRef ?? from.secretRef;
        const kind = from.configMapRef ? 'configMap' : 'secret';
        cache.set(`${kind}/${ref.name}`, await this.source(kind, ref.name));
      }
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const kind = variable.valueFrom.configMapKeyRef ? 'configMap' : 'secret';
        cache.set(`${kind}/${ref.name}`, await this.source(kind, ref.name));
      }
      const sources: EnvSources = {
        configMap: (_ns, name) => cache.get(`configMap/${name}`),
        secret: (_ns, name) => cache.get(`secret/${name}`),
      };
      try {
        terminationPlan(this.pod, container);
        const namespace = this.pod.metadata.namespace!;
        const env: Record<string, string> = { ...IMAGE_ENV, HOSTNAME: this.pod.metadata.name };
        for (const [name, value] of Object.entries(containerEnv(this.pod, container, sources))) {
          env[name] = rewriteServiceAddresses(value, namespace, this.options.resolveService);
        }
        // The pod's network namespace: the app binds the pod IP, where a real pod's 0.0.0.0 would be.
        if (!env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::') env.HOST = this.pod.status.podIP;
        const mounts = (container.volumeMounts ?? []).map((mount: any) => ({
          mountPath: mount.mountPath,
          localDir: volumes.find((volume) => volume.name === mount.name)?.localDir ?? this.dir,
        }));
        const { file, args } = commandLine(container, env, mounts, this.options.root);
        mkdirSync(this.dir, { recursive: true });
        return ManagedProcess.start(`${this.label}/${container.name}`, file, args, {
          logFile: path.join(this.dir, `${container.name}.log`),
          env,
          cwd: this.options.root,
          inheritEnv: false,
        });
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        status.state = { waiting: { reason: 'CreateContainerConfigError', message: error.message } };
        this.publish();
        await sleep(2000, this.abort.signal);
      }
    }
  }

  private async runToCompletion(
    container: Container,
    status: ContainerStatus,
    volumes: Array<{ name: string; localDir: string }>,
  ): Promise<number | null> {
    const child = await this.spawn(container, status, volumes);
    if (!child) return null;
    this.running.set(container.name, child);
    const startedAt = now();
    status.state = { running: { startedAt } };
    status.started = true;
    this.publish();
    const { code, signal } = await child.exited;
    this.running.delete(container.name);
    status.state = {
      terminated: {
        exitCode: code ?? 137,
        reason: code === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: now(),
        ...(signal ? { signal: 9 } : {}),
      },
    };
    status.started = false;
    this.publish();
    return code;
  }

  /** Runs a container, probes it, and restarts it by the pod's restart policy. */
  private async keepRunning(container: Container, volumes: Array<{ name: string; localDir: string }>): Promise<void> {
    const status = this.statuses.get(container.name)!;
    const restartPolicy = this.pod.spec.restartPolicy ?? 'Always';
    for (;;) {
      const child = await this.spawn(container, status, volumes);
      if (!child) return;
      this.running.set(container.name, child);
      const startedAt = now();
      status.state = { running: { startedAt } };
      this.phase = 'Running';
      this.publish();
      const probing = new AbortController();
      const exited = child.exited.then((result) => (probing.abort(), result));
      void this.probe(container, status, child, probing.signal);
      const { code, signal } = await exited;
      this.running.delete(container.name);
      status.ready = false;
      status.started = false;
      const terminated = {
        exitCode: code ?? 128 + 9,
        reason: code === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: now(),
        ...(signal ? { signal: signal === 'SIGKILL' ? 9 : 15 } : {}),
      };
      if (this.abort.signal.aborted) {
        status.state = { terminated };
        this.publish();
        return;
      }
      this.options.log(
        `${this.label}: container ${container.name} exited (${signal ?? `code ${code}`}); see ${child.logFile}`,
      );
      if (restartPolicy === 'Never' || (restartPolicy === 'OnFailure' && code === 0)) {
        status.state = { terminated };
        return this.finish(code === 0 ? 'Succeeded' : 'Failed');
      }
      status.lastState = { terminated };
      status.restartCount += 1;
      status.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting ${container.name}` } };
      this.publish();
      await sleep(restartDelayMs(status.restartCount - 1), this.abort.signal);
      if (this.abort.signal.aborted) return;
    }
  }

  /** The startup probe until it passes, then the readiness probe for as long as the process runs. */
  private async probe(
    container: Container,
    status: ContainerStatus,
    child: ManagedProcess,
    signal: AbortSignal,
  ): Promise<void> {
    const startup = probePlan(container, container.startupProbe);
    const readiness = probePlan(container, container.readinessProbe);
    if (startup) {
      await sleep(startup.initialDelayMs, signal);
      const verdict = new ProbeVerdict(startup);
      while (!signal.aborted && !verdict.passing) {
        verdict.record(await this.check(startup));
        if (verdict.passing) break;
        if (verdict.exhausted) {
          this.options.log(
            `${this.label}: startup probe of ${container.name} failed ${startup.failureThreshold} times; restarting it`,
          );
          child.child.kill('SIGKILL');
          return;
        }
        await sleep(startup.periodMs, signal);
      }
    }
    if (signal.aborted) return;
    status.started = true;
    this.publish();
    if (!readiness) {
      status.ready = true;
      this.publish();
      return;
    }
    await sleep(readiness.initialDelayMs, signal);
    const verdict = new ProbeVerdict(readiness);
    while (!signal.aborted) {
      if (verdict.record(await this.check(readiness)) && !signal.aborted && !this.pod.metadata.deletionTimestamp) {
        status.ready = verdict.passing;
        this.publish();
      }
      await sleep(readiness.periodMs, signal);
    }
  }

  private async check(plan: ProbePlan): Promise<boolean> {
    const host = this.pod.status.podIP;
    if (plan.kind === 'tcp') {
      return new Promise((resolve) => {
        const socket = connect({ host, port: plan.port });
        const done = (ok: boolean) => (socket.destroy(), resolve(ok));
        socket.setTimeout(plan.timeoutMs, () => done(false));
        socket.once('connect', () => done(true));
        socket.once('error', () => done(false));
      });
    }
    try {
      const response = await fetch(`http://${host}:${plan.port}${plan.path}`, {
        signal: AbortSignal.timeout(plan.timeoutMs),
        headers: { 'user-agent': 'kube-probe/1.33' },
      });
      await response.arrayBuffer();
      return response.status >= 200 && response.status < 400;
    } catch {
      return false;
    }
  }

  private setWaitingAll(reason: string, message: string): void {
    for (const status of [...this.initStatuses.values(), ...this.statuses.values()])
      status.state = { waiting: { reason, message } };
    this.publish();
  }

  private finish(phase: 'Succeeded' | 'Failed'): void {
    this.phase = phase;
    this.publish();
  }

  /**
   * Deletion: preStop sleep, SIGTERM, SIGKILL at the grace deadline (preStop counts against the
   * grace period, as for the kubelet), then the final delete of the pod object.
   */
  private async terminate(): Promise<void> {
    const deadline = performance.now() + (this.pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
    this.abort.abort();
    await Promise.all(
      [...this.running.entries()].map(async ([name, child]) => {
        const container = [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find(
          (c: Container) => c.name === name,
        );
        const { preStopMs } = container ? terminationPlan(this.pod, container) : { preStopMs: 0 };
        const isInit = (this.pod.spec.initContainers ?? []).some((c: Container) => c.name === name);
        if (!isInit && preStopMs > 0)
          await Promise.race([sleep(Math.min(preStopMs, deadline - performance.now())), child.exited]);
        child.child.kill('SIGTERM');
        const kill = setTimeout(() => child.child.kill('SIGKILL'), Math.max(0, deadline - performance.now()));
        await child.exited;
        clearTimeout(kill);
      }),
    );
    await this.publishing;
    const { namespace, name, uid } = this.pod.metadata;
    try {
      await this.options.api.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (error) {
      if (!(error instanceof KubeApiError && (error.status === 404 || error.status === 409))) {
        this.options.log(`${this.label}: final delete failed: ${String(error)}`);
      }
    }
    this.onGone();
  }

  /** Sends the current status; one request in flight, later changes coalesced into the next. */
  private publish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    this.publishing = this.publishing.then(async () => {
      this.publishQueued = false;
      const { namespace, name } = this.pod.metadata;
      try {
        await this.options.api.patchStatus(`/api/v1/namespaces/${namespace}/pods/${name}`, this.status());
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 404))
          this.options.log(`${this.label}: status update failed: ${String(error)}`);
      }
    });
  }

  private condition(type: string, ok: boolean, reason?: string): Record<string, string> {
    const status = ok ? 'True' : 'False';
    const previous = this.transitions.get(type);
    const at = previous?.status === status ? previous.at : now();
    this.transitions.set(type, { status, at });
    return { type, status, lastTransitionTime: at, ...(ok || !reason ? {} : { reason }) };
  }

  private status(): Record<string, unknown> {
    const containers = [...this.statuses.values()];
    const ready = !this.abort.signal.aborted && containers.every((status) => status.ready);
    return {
      phase: this.phase,
      ...(this.phase !== 'Pending' && !this.pod.status?.startTime ? { startTime: now() } : {}),
      conditions: [
        this.condition('PodReadyToStartContainers', true),
        this.condition('Initialized', this.initialized, 'ContainersNotInitialized'),
        this.condition('ContainersReady', ready, 'ContainersNotReady'),
        this.condition('Ready', ready, 'ContainersNotReady'),
      ],
      containerStatuses: containers.map((status) => ({ ...status })),
      ...(this.initStatuses.size
        ? { initContainerStatuses: [...this.initStatuses.values()].map((status) => ({ ...status })) }
        : {}),
    };
  }
}
