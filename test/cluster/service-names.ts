/** A Service a pod names, as the cluster's DNS would resolve it from the pod's namespace. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

const LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
// host:port where host is a DNS name (one or more labels) not preceded by another name character.
const HOST_PORT = new RegExp(`(^|[^A-Za-z0-9.-])(${LABEL}(?:\\.${LABEL})*):(\\d{1,5})(?![0-9])`, 'g');

/**
 * The Service a host name means from a pod in `podNamespace`, with the pod's DNS search path
 * (`<ns>.svc.cluster.local svc.cluster.local cluster.local`): `name`, `name.ns`, `name.ns.svc`,
 * `name.ns.svc.cluster.local`. Undefined for anything else.
 */
export function serviceOfHost(host: string, podNamespace: string): ServiceRef | undefined {
  const labels = host.toLowerCase().split('.');
  if (labels.length === 1) return { namespace: podNamespace, name: labels[0]! };
  const [name, namespace, ...rest] = labels;
  const suffix = rest.join('.');
  if (suffix === '' || suffix === 'svc' || suffix === 'svc.cluster.local')
    return { namespace: namespace!, name: name! };
  return undefined;
}

/**
 * Rewrites every `host:port` in `value` whose host names a Service (see serviceOfHost) to the
 * local address `resolve` gives for that Service port; leaves the rest as it is. This is how a
 * pod here reaches a Service: no cluster DNS, no kube-proxy, but a forwarder per Service port.
 */
export function rewriteServiceAddresses(
  value: string,
  podNamespace: string,
  resolve: (service: ServiceRef, port: number) => string | undefined,
): string {
  return value.replace(HOST_PORT, (whole, before: string, host: string, port: string) => {
    const service = serviceOfHost(host, podNamespace);
    const local = service && resolve(service, Number(port));
    return local ? `${before}${local}` : whole;
  });
}
