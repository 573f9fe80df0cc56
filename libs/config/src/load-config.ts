import { hostname } from 'node:os';
import { z } from 'zod';
import { type AppName, LOG_FORMATS, LOG_LEVELS, STREAM_SOURCE_NAMES, type StreamSourceName } from './app-config.js';

const DEFAULT_PORTS: Record<AppName, number> = { main: 3000, base: 3001, stream: 3002 };

/** The apps that authorize users' requests; base is internal and takes no users' tokens. */
const AUTHORIZING_APPS: ReadonlySet<AppName> = new Set(['main', 'stream']);

/** HS256 keys shorter than this are refused (RFC 7518 §3.2: a key at least as long as the hash). */
export const MIN_JWT_SECRET_BYTES = 32;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((raw) =>
      raw
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1));
const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL')
  .refine((url) => URL.canParse(url), 'expected a redis:// or rediss:// URL');
const hostPort = z.string().regex(/^[\w.-]+(:\d{1,5})?$/, 'expected host or host:port');

/** What every app reads: where it listens, who it is, how it logs, the admin token. */
const commonFields = {
  PORT: int(0, 65535).optional(),
  HOST: z.string().min(1).default('0.0.0.0'),
  POD_NAME: z.string().min(1).max(253).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('log'),
  LOG_FORMAT: z.enum(LOG_FORMATS).default('json'),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // base accepts it (or the admin token) and nothing else; main, stream and the migration send it.
  INTERNAL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
};

/** base: its Cassandra. */
const cassandraFields = {
  CASSANDRA_CONTACT_POINTS: list(hostPort).default(['127.0.0.1:9042']),
  CASSANDRA_LOCAL_DC: z.string().min(1).default('datacenter1'),
  CASSANDRA_KEYSPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/, 'expected a lower-case CQL identifier')
    .default('kubescaler'),
  CASSANDRA_REPLICATION_FACTOR: int(1, 9).default(1),
  CASSANDRA_REQUEST_TIMEOUT_MS: int(100, 60_000).default(1500),
};

/** main and stream: base, the Redis servers (lock servers and the main one) and the lease. */
const dependencyFields = {
  BASE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3001'),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  REDIS_LOCK_URLS: list(redisUrl).optional(),
  REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000).default(500),
  LOCK_TTL_MS: int(1000, 600_000).default(15_000),
  LOCK_RENEW_MS: int(100, 300_000).default(5000),
  STREAM_HISTORY_MAX_EVENTS: int(1, 100_000).default(1000),
  STREAM_HISTORY_MAX_AGE_MS: int(1000, 7 * 24 * 3_600_000).default(600_000),
};

/** main: publishing. */
const publishFields = {
  PUBLISH_MAX_DATA_BYTES: int(2, 1024 * 1024 - 1024).default(64 * 1024),
  PUBLISH_TOKENS: list(z.string().min(16, 'each token must be at least 16 characters')).optional(),
};

/** main: sign-ins and live-profile look-ups per client (X-Real-IP) and minute, in each replica; 0 is no limit. */
const mainRateLimitFields = {
  RATE_LIMIT_SIGN_IN_PER_MINUTE: int(0, 100_000_000).default(10),
  RATE_LIMIT_LOGIN_PER_MINUTE: int(0, 100_000_000).default(60),
};

/** stream: the streams themselves. */
const streamFields = {
  STREAM_EVENTS_PER_SECOND: int(1, 1000).default(4),
  STREAM_EVENT_BYTES: int(1, 4 * 1024 * 1024).default(64 * 1024),
  STREAM_MAX_BUFFER_BYTES: int(1024, 256 * 1024 * 1024).default(1024 * 1024),
  STREAM_MAX_CONNECTIONS: int(1, 1_000_000).default(1000),
  STREAM_HEARTBEAT_MS: int(100, 600_000).default(15_000),
  STREAM_STALL_TIMEOUT_MS: int(1000, 3_600_000).default(30_000),
  STREAM_MAX_LAG_MS: int(10, 60_000).default(1000),
  STREAM_SOCKET_NOTSENT_LOWAT_BYTES: int(0, 64 * 1024 * 1024).default(128 * 1024),
  STREAM_SOURCES: list(z.enum(STREAM_SOURCE_NAMES))
    .refine((names) => new Set(names).size === names.length, 'names a source twice')
    .default([...STREAM_SOURCE_NAMES]),
  STREAM_MAX_PER_USER: int(1, 100_000).default(10),
  STREAM_HEAP_GROWING_PERCENT: int(0, 1000).default(20),
  // Stream opens per client (X-Real-IP) and minute, in each replica; 0 is no limit.
  RATE_LIMIT_STREAM_OPENS_PER_MINUTE: int(0, 100_000_000).default(120),
};

type CommonEnv = z.output<z.ZodObject<typeof commonFields>>;
type DependencyEnv = z.output<z.ZodObject<typeof dependencyFields>>;

function commonOf<A extends AppName>(app: A, e: CommonEnv) {
  return {
    app,
    podName: e.POD_NAME ?? hostname(),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    http: { host: e.HOST, port: e.PORT ?? DEFAULT_PORTS[app] },
    /** Undefined when no token is configured: admin endpoints then refuse every call. */
    adminToken: e.ADMIN_TOKEN,
    /**
     * The internal service credential (`INTERNAL_TOKEN`): main and stream send it to base, base
     * accepts it (or the admin token) and nothing else. Unset: base takes the admin token only.
     */
    internalToken: e.INTERNAL_TOKEN,
    /** Valid but doubtful settings, logged once at start. */
    warnings: [] as string[],
  };
}

function dependenciesOf(e: DependencyEnv) {
  return {
    baseUrl: e.BASE_URL.replace(/\/+$/, ''),
    redis: {
      /** The lock server when `REDIS_LOCK_URLS` is unset; otherwise only for data that may be lost. */
      url: e.REDIS_URL,
      /** The lock servers: distinct servers (checked), a majority of which must agree. */
      lockUrls: e.REDIS_LOCK_URLS ?? [e.REDIS_URL],
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    warnings: warningsOf(e.REDIS_LOCK_URLS),
    lock: { ttlMs: e.LOCK_TTL_MS, renewMs: e.LOCK_RENEW_MS },
    /** Each pair's history of published events (main writes it, stream reads it). */
    history: { maxEvents: e.STREAM_HISTORY_MAX_EVENTS, maxAgeMs: e.STREAM_HISTORY_MAX_AGE_MS },
  };
}

/** The lease and lock-server checks of the apps that hold or read locks. */
function checkDependencies(env: DependencyEnv, context: z.RefinementCtx): void {
  if (env.LOCK_RENEW_MS * 2 > env.LOCK_TTL_MS) {
    context.addIssue({
      code: 'custom',
      path: ['LOCK_RENEW_MS'],
      message: 'must be at most half of LOCK_TTL_MS, so a slow renewal still lands well inside the lease',
    });
  }
  const seen = new Map<string, string>();
  for (const url of env.REDIS_LOCK_URLS ?? []) {
    const server = redisServerKey(url);
    const first = seen.get(server);
    if (first !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['REDIS_LOCK_URLS'],
        message: `names the server ${server} twice (${first} and ${url}); each lock server must be a separate Redis, or its vote counts twice`,
      });
    }
    seen.set(server, url);
  }
}

/** Each app's variables and the configuration built from them: an app validates only what it uses. */
const appSchemas = {
  base: z.object({ ...commonFields, ...cassandraFields }).transform((e) => ({
    ...commonOf('base', e),
    cassandra: {
      contactPoints: e.CASSANDRA_CONTACT_POINTS,
      localDc: e.CASSANDRA_LOCAL_DC,
      keyspace: e.CASSANDRA_KEYSPACE,
      replicationFactor: e.CASSANDRA_REPLICATION_FACTOR,
      requestTimeoutMs: e.CASSANDRA_REQUEST_TIMEOUT_MS,
    },
  })),
  main: z
    .object({ ...commonFields, ...dependencyFields, ...publishFields, ...mainRateLimitFields })
    .superRefine(checkDependencies)
    .transform((e) => ({
      ...commonOf('main', e),
      ...dependenciesOf(e),
      publish: {
        /** Largest `data` of one published event, as JSON text. */
        maxDataBytes: e.PUBLISH_MAX_DATA_BYTES,
        /** Publisher credentials (`PUBLISH_TOKENS`): bearer tokens that may publish to any pair. */
        tokens: e.PUBLISH_TOKENS ?? [],
      },
      /** Calls per client and minute beyond which → 429 `RATE_LIMITED`; 0 = no limit. */
      rateLimits: {
        /** `POST /main/dev-login`. */
        signInPerMinute: e.RATE_LIMIT_SIGN_IN_PER_MINUTE,
        /** `GET /main/login/:userId` (the live-profile look-up). */
        loginPerMinute: e.RATE_LIMIT_LOGIN_PER_MINUTE,
      },
    })),
  stream: z
    .object({ ...commonFields, ...dependencyFields, ...streamFields })
    .superRefine(checkDependencies)
    .transform((e) => ({
      ...commonOf('stream', e),
      ...dependenciesOf(e),
      stream: {
        eventsPerSecond: e.STREAM_EVENTS_PER_SECOND,
        eventBytes: e.STREAM_EVENT_BYTES,
        maxBufferBytes: e.STREAM_MAX_BUFFER_BYTES,
        maxConnections: e.STREAM_MAX_CONNECTIONS,
        heartbeatMs: e.STREAM_HEARTBEAT_MS,
        stallTimeoutMs: e.STREAM_STALL_TIMEOUT_MS,
        /** An event that cannot leave the process this long after its due time is dropped. */
        maxLagMs: e.STREAM_MAX_LAG_MS,
        /** TCP_NOTSENT_LOWAT of every SSE socket (unsent bytes the kernel queues); 0 leaves the kernel default. */
        notsentLowatBytes: e.STREAM_SOCKET_NOTSENT_LOWAT_BYTES,
        /** The sources every stream of this deployment carries, in order. */
        sources: e.STREAM_SOURCES as StreamSourceName[],
        /** Live streams one user may have across every pod; beyond → 429. */
        maxPerUser: e.STREAM_MAX_PER_USER,
        /** V8's old-generation growth per full GC, in percent of the live heap; 0 = V8's own choice (up to 4×). */
        heapGrowingPercent: e.STREAM_HEAP_GROWING_PERCENT,
      },
      /** Calls per client and minute beyond which → 429 `RATE_LIMITED`; 0 = no limit. */
      rateLimits: {
        /** `GET /stream/:userId/:profileId`, refused ones included. */
        streamOpensPerMinute: e.RATE_LIMIT_STREAM_OPENS_PER_MINUTE,
      },
    })),
};

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * The server a Redis URL reaches, as `host:port`: host lower-cased (loopback names as
 * `127.0.0.1`), port defaulted to 6379; scheme, credentials and database ignored — two databases
 * of one server are one server.
 */
export function redisServerKey(url: string): string {
  const parsed = new URL(url);
  const host = parsed.hostname.toLowerCase().replace(/\.$/, '');
  return `${LOOPBACK.has(host) ? '127.0.0.1' : host}:${parsed.port || '6379'}`;
}

const boolean = z.enum(['true', 'false']).transform((value) => value === 'true');

/** Registered claims that say when a token is valid and for whom, never who the user is. */
const TIME_AND_PARTY_CLAIMS: ReadonlySet<string> = new Set(['exp', 'nbf', 'iat', 'iss', 'aud', 'jti']);

/** Users' tokens (main and stream): validated apart from the rest, so its cross-checks run even when another variable is bad. */
const authSchema = z
  .object({
    AUTH_MODE: z.enum(['jwt', 'open']).default('jwt'),
    AUTH_JWT_SECRET: z
      .string()
      .refine((secret) => Buffer.byteLength(secret, 'utf8') >= MIN_JWT_SECRET_BYTES, {
        message: `must be at least ${MIN_JWT_SECRET_BYTES} bytes`,
      })
      .optional(),
    AUTH_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    AUTH_ISSUER: z.string().min(1).optional(),
    AUTH_AUDIENCE: list(z.string().min(1)).optional(),
    AUTH_USER_CLAIM: z
      .string()
      .trim()
      .min(1)
      .refine((claim) => !TIME_AND_PARTY_CLAIMS.has(claim), {
        message: `must name the claim that holds the user id, not one of ${[...TIME_AND_PARTY_CLAIMS].join(', ')}`,
      })
      .default('sub'),
    AUTH_DEV_LOGIN: boolean.default(false),
  })
  .superRefine((env, ctx) => {
    if (env.AUTH_MODE === 'jwt' && !env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message:
          "set AUTH_JWT_SECRET and/or AUTH_JWKS_URL to verify users' tokens, or AUTH_MODE=open to authorize nothing",
      });
    }
    if (env.AUTH_DEV_LOGIN && !env.AUTH_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_DEV_LOGIN'],
        message: 'development sign-in signs its sessions with AUTH_JWT_SECRET, which is not set',
      });
    }
  })
  .transform((a) => ({
    mode: a.AUTH_MODE,
    /** HS256 key (at least 32 bytes); also signs development sessions. */
    jwtSecret: a.AUTH_JWT_SECRET,
    /** JSON Web Key Set of an identity provider (RS256 / ES256 keys). */
    jwksUrl: a.AUTH_JWKS_URL,
    /** Required `iss` of every token, when set. */
    issuer: a.AUTH_ISSUER,
    /** Accepted `aud` values (a token must name one), when set. */
    audience: a.AUTH_AUDIENCE,
    /** The claim that holds the user id (`sub` unless the identity provider puts it elsewhere). */
    userClaim: a.AUTH_USER_CLAIM,
    /** `POST /main/dev-login` exists: anyone may sign in as any existing user. Never in production. */
    devLogin: a.AUTH_DEV_LOGIN,
  }));

/** Variables whose values never appear in an error message. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'ADMIN_TOKEN',
  'INTERNAL_TOKEN',
  'AUTH_JWT_SECRET',
  'PUBLISH_TOKENS',
]);

/** Thrown by `loadConfig`; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type DeepReadonly<T> = T extends (infer I)[]
  ? readonly DeepReadonly<I>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** How users' tokens are verified and issued (main and stream). */
export type AuthConfig = DeepReadonly<z.output<typeof authSchema>>;
/** base's validated configuration. */
export type BaseConfig = DeepReadonly<z.output<(typeof appSchemas)['base']>>;
/** main's validated configuration. */
export type MainConfig = DeepReadonly<z.output<(typeof appSchemas)['main']> & { auth: AuthConfig }>;
/** stream's validated configuration. */
export type StreamConfig = DeepReadonly<z.output<(typeof appSchemas)['stream']> & { auth: AuthConfig }>;

/** Each app's configuration type. */
export interface ConfigOf {
  base: BaseConfig;
  main: MainConfig;
  stream: StreamConfig;
}

/** Any app's configuration: what every app has is common to all three. */
export type AppConfig = ConfigOf[AppName];

/** The configuration of an app that reaches base and Redis and takes users' tokens (main, stream). */
export type ClientAppConfig = MainConfig | StreamConfig;

/**
 * Validates the environment once into a frozen, typed configuration for `app`, reading only the
 * variables `app` uses. Empty strings count as unset, so `FOO=` falls back to the default.
 */
export function loadConfig<A extends AppName>(app: A, env: Readonly<Record<string, string | undefined>>): ConfigOf[A] {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = appSchemas[app].safeParse(present);
  const auth = AUTHORIZING_APPS.has(app) ? authSchema.safeParse(present) : undefined;
  if (!parsed.success || auth?.success === false) {
    const issues = [...(parsed.error?.issues ?? []), ...(auth?.error?.issues ?? [])];
    throw new ConfigError(
      issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        // Never echo a secret back into a log.
        const got = name in present && !SECRET_VARIABLES.has(name) ? ` (got ${JSON.stringify(present[name])})` : '';
        return `${name}: ${issue.message}${got}`;
      }),
    );
  }
  const config = auth?.success ? { ...parsed.data, auth: auth.data } : parsed.data;
  return deepFreeze(config) as unknown as ConfigOf[A];
}

function warningsOf(lockUrls: readonly string[] | undefined): string[] {
  if (!lockUrls || lockUrls.length % 2 === 1) return [];
  return [
    `REDIS_LOCK_URLS names ${lockUrls.length} lock servers: an even count tolerates no more failures than ` +
      `${lockUrls.length - 1} (a majority is ${Math.floor(lockUrls.length / 2) + 1}), so one more server only adds a way to fail`,
  ];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
