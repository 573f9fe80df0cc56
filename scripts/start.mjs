// `npm start`: installs what is missing, builds, starts Cassandra and Redis (unless
// CASSANDRA_CONTACT_POINTS / REDIS_URL name existing ones), then base, main, STREAM_REPLICAS
// stream instances and the gateway (Debian's nginx), creates demo data on an empty database, and
// prints the web client URL. Users' tokens are signed with AUTH_JWT_SECRET (generated unless set)
// and development sign-in is on (AUTH_DEV_LOGIN=true unless set). Ctrl-C stops everything it started.
import { ensureNginx } from '../libs/infra/nginx.mjs';
import { acquireRunLock } from '../libs/infra/run-lock.mjs';
import { localAppEnv } from './lib/app-env.mjs';
import { startAppProcess } from './lib/apps.mjs';
import { startGateway } from './lib/gateway.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { authSecret, envOrGenerated, internalToken } from './lib/secrets.mjs';
import { Stack } from './lib/stack.mjs';

const stack = new Stack();
let stopping = false;
stack.stopOnSignals((signal) => {
  stopping = true;
  log(`${signal}: stopping everything…`);
});

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const ports = {
  gateway: num('GATEWAY_PORT', 8080),
  main: num('MAIN_PORT', 3000),
  base: num('BASE_PORT', 3001),
  stream: num('STREAM_PORT', 3002),
};
const replicas = num('STREAM_REPLICAS', 1);

try {
  const started = Date.now();
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) throw new Error('STREAM_REPLICAS must be 1–16');
  stack.push('run lock', acquireRunLock(ROOT, 'dev'));
  await ensureDependencies();
  await build();
  // nginx installs (first run only) while Cassandra starts.
  const [infraEnv] = await Promise.all([
    provideInfra(stack, {
      name: 'dev',
      cqlPort: num('CASSANDRA_PORT', 9042),
      storagePort: num('CASSANDRA_STORAGE_PORT', 7000),
      redisPort: num('REDIS_PORT', 6379),
    }),
    ensureNginx(log),
  ]);
  const admin = envOrGenerated('ADMIN_TOKEN', 24);
  const adminToken = admin.value;
  const secret = authSecret();
  const internal = internalToken();
  const env = localAppEnv({
    infraEnv,
    adminToken,
    authSecret: secret.value,
    internalToken: internal.value,
    devLogin: process.env.AUTH_DEV_LOGIN,
    logFormat: process.env.LOG_FORMAT,
    baseUrl: process.env.BASE_URL ?? `http://127.0.0.1:${ports.base}`,
  });
  const onExit = (label) => (code, signal) => {
    if (stopping) return;
    log(`${label} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping everything`);
    void stack.stopAll().then(() => process.exit(1));
  };
  const start = async (app, label, port) => {
    const handle = await startAppProcess({ app, label, port, env: { ...env, POD_NAME: label }, onExit: onExit(label) });
    stack.push(label, handle.stop);
    return handle.url;
  };

  const baseUrl = await start('base', 'base', ports.base);
  const [mainUrl, ...streamUrls] = await Promise.all([
    start('main', 'main', ports.main),
    ...Array.from({ length: replicas }, (_, i) => start('stream', `stream-${i + 1}`, ports.stream + i)),
  ]);
  const gateway = await startGateway({
    root: ROOT,
    name: 'dev',
    host: '0.0.0.0',
    port: ports.gateway,
    mainUrls: [mainUrl],
    streamUrls,
    log,
  });
  stack.push('gateway', gateway.close);

  const demo = await createDemoDataIfEmpty(baseUrl, gateway.url, adminToken, internal.value);
  log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
  web client   ${gateway.url}/
  gateway      ${gateway.url}   (nginx: /main/* → main, everything else → ${replicas} stream replica${replicas > 1 ? 's' : ''}; logs in ${gateway.dir})
  main         ${mainUrl}
  base         ${baseUrl}   (internal: INTERNAL_TOKEN or the admin token)
  stream       ${streamUrls.join(', ')}
  admin token  ${adminToken}${admin.generated ? ' (generated for this run)' : ' (from ADMIN_TOKEN)'}
  token secret ${secret.value}${secret.generated ? ' (AUTH_JWT_SECRET, generated for this run)' : ' (from AUTH_JWT_SECRET)'}
  service token ${internal.value}${internal.generated ? ' (INTERNAL_TOKEN: what base asks of its callers, generated for this run)' : ' (from INTERNAL_TOKEN)'}
  sign in      ${env.AUTH_DEV_LOGIN === 'true' ? '"sign in as" on the web client (development sign-in)' : 'with a user token (development sign-in is off)'}
${demo}
  Ctrl-C stops everything.
`);
} catch (error) {
  console.error(`[kubescaler] start failed: ${error.message}`);
  await stack.stopAll();
  process.exit(1);
}

/** Seeds demo data through main when base has no users, so the landing page has something to show. */
async function createDemoDataIfEmpty(baseUrl, gatewayUrl, adminToken, serviceToken) {
  const users = await (
    await fetch(`${baseUrl}/users?limit=1`, { headers: { authorization: `Bearer ${serviceToken}` } })
  ).json();
  if (users.items?.length > 0) return '';
  const response = await fetch(`${gatewayUrl}/main/testdata`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const summary = await response.json();
  if (!response.ok) throw new Error(`creating demo data failed: ${summary.message}`);
  const example = summary.examples[0];
  return `  demo data    ${summary.users} users, ${summary.profiles} profiles created (seed ${summary.seed})
  try          ${gatewayUrl}${example.link}
`;
}
