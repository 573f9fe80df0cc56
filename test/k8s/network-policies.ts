import type { K8sObject } from './rendered-manifests.js';

/** A pod as NetworkPolicies see it: its namespace and its labels. */
export interface PolicyPeer {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

type Direction = 'Ingress' | 'Egress';

function matchLabels(selector: K8sObject | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not modelled');
  return Object.entries((selector.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => labels[k] === v);
}

/** Whether one `from`/`to` entry of a policy in `policyNamespace` names `peer` (ipBlocks name no pod). */
function peerMatches(entry: K8sObject, policyNamespace: string, peer: PolicyPeer): boolean {
  if (entry.ipBlock) return false;
  const namespaceOk = entry.namespaceSelector
    ? matchLabels(entry.namespaceSelector, { 'kubernetes.io/metadata.name': peer.namespace })
    : peer.namespace === policyNamespace;
  return namespaceOk && matchLabels(entry.podSelector, peer.labels);
}

function portMatches(rule: K8sObject, port: number, protocol: string): boolean {
  if (!rule.ports) return true;
  return (rule.ports as K8sObject[]).some((p) => {
    if (typeof p.port !== 'number') throw new Error(`named port ${p.port} is not modelled`);
    return (
      (p.protocol ?? 'TCP') === protocol && (p.port === port || (p.endPort && port >= p.port && port <= p.endPort))
    );
  });
}

/** Whether the policies of `pod`'s namespace let traffic through `pod` in `direction` with `other`. */
function side(
  policies: K8sObject[],
  pod: PolicyPeer,
  direction: Direction,
  other: PolicyPeer,
  port: number,
  protocol: string,
) {
  const selecting = policies.filter(
    (p) =>
      (p.metadata.namespace ?? pod.namespace) === pod.namespace &&
      matchLabels(p.spec.podSelector, pod.labels) &&
      (p.spec.policyTypes ?? ['Ingress']).includes(direction),
  );
  if (selecting.length === 0) return true;
  const key = direction === 'Ingress' ? 'ingress' : 'egress';
  const peers = direction === 'Ingress' ? 'from' : 'to';
  return selecting.some((policy) =>
    ((policy.spec[key] ?? []) as K8sObject[]).some(
      (rule) =>
        portMatches(rule, port, protocol) &&
        (!rule[peers] || (rule[peers] as K8sObject[]).some((entry) => peerMatches(entry, pod.namespace, other))),
    ),
  );
}

/**
 * Whether NetworkPolicies (as a plugin that enforces them would) let `from` open a connection to
 * `to` on `port`: the egress policies of `from`'s namespace and the ingress policies of `to`'s.
 * Only what these manifests use is modelled (matchLabels, namespaceSelector by name, numeric ports).
 */
export function allowedByPolicies(
  policies: K8sObject[],
  from: PolicyPeer,
  to: PolicyPeer,
  port: number,
  protocol = 'TCP',
): boolean {
  return side(policies, from, 'Egress', to, port, protocol) && side(policies, to, 'Ingress', from, port, protocol);
}
