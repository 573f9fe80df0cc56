import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileAsync } from './processes.js';

/** The certificates and keys of one local cluster (all under `dir`). */
export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly apiServerCert: string;
  readonly apiServerKey: string;
  readonly frontProxyCaCert: string;
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /** The kubelet's serving certificate (for the node IP), which the API server and metrics-server verify. */
  readonly kubeletServingCert: string;
  readonly kubeletServingKey: string;
  /** Client certificates by identity name (see CLIENTS). */
  readonly clients: Record<ClientName, { cert: string; key: string }>;
}

/** The node's name: its kubelet's identity (`system:node:<name>`, Node authorization) and the Node object's name. */
export const NODE_NAME = 'kubescaler-node';

/**
 * Client identities: the admin (group system:masters) for people and the run itself; the
 * scheduler, the controller-manager and kube-proxy as the users the bootstrap RBAC policy binds;
 * the kubelet as its node (Node authorizer); the API server towards the kubelets (logs, exec).
 */
const CLIENTS = {
  admin: '/O=system:masters/CN=kubescaler-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  'kube-proxy': '/CN=system:kube-proxy',
  kubelet: `/O=system:nodes/CN=system:node:${NODE_NAME}`,
  'apiserver-kubelet-client': '/O=system:masters/CN=kube-apiserver-kubelet-client',
} as const;
export type ClientName = keyof typeof CLIENTS;

const openssl = (args: string[], cwd: string) => execFileAsync('openssl', args, { cwd });

/** P-256 keys: quick to generate, accepted by every component. */
async function newKey(dir: string, name: string): Promise<string> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  return path.join(dir, `${name}.key`);
}

async function selfSignedCa(dir: string, name: string, subject: string): Promise<void> {
  await newKey(dir, name);
  // openssl's default configuration marks a self-signed `req -x509` certificate as a CA (v3_ca).
  await openssl(
    ['req', '-x509', '-new', '-key', `${name}.key`, '-subj', subject, '-days', '3650', '-out', `${name}.crt`],
    dir,
  );
}

/** Signed in parallel: a random serial each, never a shared serial file. */
async function signedCert(
  dir: string,
  name: string,
  subject: string,
  ca: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  await newKey(dir, name);
  await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '365',
    ].concat(['-extfile', `${name}.ext`, '-out', `${name}.crt`]),
    dir,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

const CLIENT_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

/**
 * A fresh PKI with openssl: the cluster CA, the API server's serving certificate (for the node's
 * address, 127.0.0.1, localhost and the in-cluster names and address of the `kubernetes`
 * Service), the kubelet's serving certificate, client certificates, the front-proxy CA and client
 * the API server presents to aggregated API servers (prometheus-adapter, metrics-server), and the
 * service-account signing key pair.
 */
export async function createPki(dir: string, serviceIp: string, nodeIp: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  await Promise.all([
    selfSignedCa(dir, 'ca', '/CN=kubescaler-local-ca'),
    selfSignedCa(dir, 'front-proxy-ca', '/CN=kubescaler-front-proxy-ca'),
  ]);
  const names = [
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
  ];
  const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1', `IP:${serviceIp}`, `IP:${nodeIp}`].join(',');
  const [apiServer, kubeletServing, frontProxyClient, ...clients] = await Promise.all([
    signedCert(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      'ca',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    ),
    signedCert(
      dir,
      'kubelet-serving',
      `/O=system:nodes/CN=system:node:${NODE_NAME}`,
      'ca',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${NODE_NAME},IP:${nodeIp}\n`,
    ),
    signedCert(dir, 'front-proxy-client', '/CN=front-proxy-client', 'front-proxy-ca', CLIENT_EXT),
    ...Object.entries(CLIENTS).map(([name, subject]) => signedCert(dir, `client-${name}`, subject, 'ca', CLIENT_EXT)),
  ]);
  await newKey(dir, 'sa');
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const clientEntries = Object.keys(CLIENTS).map((name, index) => [name, clients[index]!] as const);
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    apiServerCert: apiServer.cert,
    apiServerKey: apiServer.key,
    frontProxyCaCert: path.join(dir, 'front-proxy-ca.crt'),
    frontProxyClientCert: frontProxyClient.cert,
    frontProxyClientKey: frontProxyClient.key,
    serviceAccountKey: path.join(dir, 'sa.key'),
    serviceAccountPub: path.join(dir, 'sa.pub'),
    kubeletServingCert: kubeletServing.cert,
    kubeletServingKey: kubeletServing.key,
    clients: Object.fromEntries(clientEntries) as Pki['clients'],
  };
}

/** A kubeconfig for `server` with a client certificate, or a bearer token file. */
export function writeKubeconfig(
  file: string,
  {
    server,
    caFile,
    user,
    certFile,
    keyFile,
    tokenFile,
  }: {
    server: string;
    caFile: string;
    user: string;
    certFile?: string;
    keyFile?: string;
    tokenFile?: string;
  },
): string {
  const credentials = tokenFile
    ? `      tokenFile: ${tokenFile}\n`
    : `      client-certificate: ${certFile}\n      client-key: ${keyFile}\n`;
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: kubescaler-local
    cluster:
      server: ${server}
      certificate-authority: ${caFile}
users:
  - name: ${user}
    user:
${credentials}contexts:
  - name: kubescaler-local
    context:
      cluster: kubescaler-local
      user: ${user}
      namespace: kubescaler
current-context: kubescaler-local
`,
    { mode: 0o600 },
  );
  return file;
}
