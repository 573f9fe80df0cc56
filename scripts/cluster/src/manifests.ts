import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from './kube-api.js';
import { execFileAsync } from './processes.js';

/** What one run adds on top of k8s/overlays/local. */
export interface RunWiring {
  /** Image references the run's images replace (`kubescaler` → `kubescaler:<content hash>`). */
  readonly images?: ReadonlyArray<{ name: string; newName?: string; newTag?: string }>;
  /** Replace the overlay's generated Secrets with these values (tests: the run's own secrets). */
  readonly adminToken?: string;
  readonly authSecret?: string;
  readonly internalToken?: string;
}

/**
 * The kustomization a run applies: k8s/overlays/local as it is, plus the tag of the app image
 * this run built and, when given, the run's own secrets (kept in the run directory, never in
 * the checkout).
 */
export function runKustomization(dir: string, overlay: string, wiring: RunWiring): string {
  mkdirSync(dir, { recursive: true });
  const secrets = [
    wiring.adminToken && { name: 'kubescaler-admin', literals: [`ADMIN_TOKEN=${wiring.adminToken}`] },
    wiring.authSecret && { name: 'kubescaler-auth', literals: [`AUTH_JWT_SECRET=${wiring.authSecret}`] },
    wiring.internalToken && { name: 'kubescaler-internal', literals: [`INTERNAL_TOKEN=${wiring.internalToken}`] },
  ].filter(Boolean) as Array<Record<string, unknown>>;
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [path.relative(dir, overlay)],
    ...(wiring.images?.length ? { images: wiring.images } : {}),
    ...(secrets.length ? { secretGenerator: secrets.map((secret) => ({ ...secret, behavior: 'replace' })) } : {}),
  };
  writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(kustomization), { mode: 0o600 });
  return dir;
}

/** `kustomize build` of a kustomization directory, parsed. */
export async function render(kustomize: string, dir: string): Promise<{ yaml: string; objects: KubeObject[] }> {
  const { stdout } = await execFileAsync(kustomize, ['build', dir], { maxBuffer: 64 * 1024 * 1024 });
  const objects = parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as KubeObject)
    .filter(Boolean);
  return { yaml: stdout, objects };
}

/**
 * Applies rendered manifests for real with server-side apply: Namespaces first (namespaced
 * objects cannot be dry-run before their Namespace exists), then a server-side dry run of
 * everything, then everything. Returns kubectl's output of each step.
 */
export async function applyServerSide(
  kubectl: string,
  kubeconfig: string,
  dir: string,
  rendered: { yaml: string; objects: KubeObject[] },
): Promise<{ namespaces: string; dryRun: string; apply: string }> {
  const all = path.join(dir, 'rendered.yaml');
  const namespaces = path.join(dir, 'namespaces.yaml');
  writeFileSync(all, rendered.yaml);
  writeFileSync(
    namespaces,
    rendered.objects
      .filter((o) => o.kind === 'Namespace')
      .map((o) => stringify(o))
      .join('---\n'),
  );
  const apply = async (file: string, ...extra: string[]) =>
    (
      await execFileAsync(
        kubectl,
        [
          '--kubeconfig',
          kubeconfig,
          'apply',
          '--server-side',
          '--field-manager=kubescaler-local',
          '-f',
          file,
          ...extra,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      )
    ).stdout;
  const output = {
    namespaces: await apply(namespaces),
    dryRun: await apply(all, '--dry-run=server'),
    apply: await apply(all),
  };
  writeFileSync(path.join(dir, 'apply-dry-run.txt'), output.dryRun);
  writeFileSync(path.join(dir, 'apply.txt'), output.apply);
  return output;
}
