import { hostname } from 'node:os';
import { z } from 'zod';
import {
  type AppConfig,
  type AppName,
  LOG_FORMATS,
  LOG_LEVELS,
  STREAM_SOURCE_NAMES,
  type StreamSourceName,
} from './app-config.js';

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

const envSchema = z
  .object({
    PORT: int(0, 65535).optional(),
    HOST: z.string().min(1).default('0.0.0.0'),
    POD_NAME: z.string().min(1).max(253).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('log'),
    LOG_FORMAT: z.enum(LOG_FORMATS).default('json'),
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    BASE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3001'),
    CASSANDRA_CONTACT_POINTS: list(hostPort).default(['127.0.0.1:9042']),
    CASSANDRA_LOCAL_DC: z.string().min(1).default('datacenter1'),
    CASSANDRA_KEYSPACE: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,47}$/, 'expected a lower-case CQL identifier')
      .default('kubescaler'),
    CASSANDRA_REPLICATION_FACTOR: int(1, 9).default(1),
    CASSANDRA_REQUEST_TIMEOUT_MS: int(100, 60_000).default(1500),
    REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
    REDIS_LOCK_URLS: list(redisUrl).optional(),
    REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000).default(500),
    LOCK_TTL_MS: int(1000, 600_000).default(15_000),
    LOCK_RENEW_MS: int(100, 300_000).default(5000),
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
    STREAM_HISTORY_MAX_EVENTS: int(1, 100_000).default(1000),
    STREAM_HISTORY_MAX_AGE_MS: int(1000, 7 * 24 * 3_600_000).default(600_000),
    PUBLISH_MAX_DATA_BYTES: int(2, 1024 * 1024 - 1024).default(64 * 1024),
    PUBLISH_TOKENS: list(z.string().min(16, 'each token must be at least 16 characters')).optional(),
  })
  .refine((env) => env.LOCK_RENEW_MS * 2 <= env.LOCK_TTL_MS, {
    path: ['LOCK_RENEW_MS'],
    message: 'must be at most half of LOCK_TTL_MS, so a slow renewal still lands well inside the lease',
  })
  .superRefine((env, context) => {
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
  });

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

/** Users' tokens: validated apart from the rest, so its cross-checks run even when another variable is bad. */
const authSchema = (app: AppName) =>
  z
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
      if (!AUTHORIZING_APPS.has(app)) return;
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
    });

/** Variables whose values never appear in an error message. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(['ADMIN_TOKEN', 'AUTH_JWT_SECRET', 'PUBLISH_TOKENS']);

/** Thrown by `loadConfig`; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment once into a frozen, typed configuration for `app`.
 * Empty strings count as unset, so `FOO=` falls back to the default.
 */
export function loadConfig(app: AppName, env: Readonly<Record<string, string | undefined>>): AppConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = envSchema.safeParse(present);
  const auth = authSchema(app).safeParse(present);
  if (!parsed.success || !auth.success) {
    const issues = [...(parsed.error?.issues ?? []), ...(auth.error?.issues ?? [])];
    throw new ConfigError(
      issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        // Never echo a secret back into a log.
        const got = name in present && !SECRET_VARIABLES.has(name) ? ` (got ${JSON.stringify(present[name])})` : '';
        return `${name}: ${issue.message}${got}`;
      }),
    );
  }
  const e = parsed.data;
  const a = auth.data;
  return deepFreeze({
    app,
    podName: e.POD_NAME ?? hostname(),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    http: { host: e.HOST, port: e.PORT ?? DEFAULT_PORTS[app] },
    adminToken: e.ADMIN_TOKEN,
    auth: {
      mode: a.AUTH_MODE,
      jwtSecret: a.AUTH_JWT_SECRET,
      jwksUrl: a.AUTH_JWKS_URL,
      issuer: a.AUTH_ISSUER,
      audience: a.AUTH_AUDIENCE,
      userClaim: a.AUTH_USER_CLAIM,
      devLogin: a.AUTH_DEV_LOGIN,
    },
    baseUrl: e.BASE_URL.replace(/\/+$/, ''),
    cassandra: {
      contactPoints: e.CASSANDRA_CONTACT_POINTS,
      localDc: e.CASSANDRA_LOCAL_DC,
      keyspace: e.CASSANDRA_KEYSPACE,
      replicationFactor: e.CASSANDRA_REPLICATION_FACTOR,
      requestTimeoutMs: e.CASSANDRA_REQUEST_TIMEOUT_MS,
    },
    redis: {
      url: e.REDIS_URL,
      lockUrls: e.REDIS_LOCK_URLS ?? [e.REDIS_URL],
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    warnings: warningsOf(e.REDIS_LOCK_URLS),
    lock: { ttlMs: e.LOCK_TTL_MS, renewMs: e.LOCK_RENEW_MS },
    stream: {
      eventsPerSecond: e.STREAM_EVENTS_PER_SECOND,
      eventBytes: e.STREAM_EVENT_BYTES,
      maxBufferBytes: e.STREAM_MAX_BUFFER_BYTES,
      maxConnections: e.STREAM_MAX_CONNECTIONS,
      heartbeatMs: e.STREAM_HEARTBEAT_MS,
      stallTimeoutMs: e.STREAM_STALL_TIMEOUT_MS,
      maxLagMs: e.STREAM_MAX_LAG_MS,
      notsentLowatBytes: e.STREAM_SOCKET_NOTSENT_LOWAT_BYTES,
      sources: e.STREAM_SOURCES as StreamSourceName[],
      maxPerUser: e.STREAM_MAX_PER_USER,
    },
    history: { maxEvents: e.STREAM_HISTORY_MAX_EVENTS, maxAgeMs: e.STREAM_HISTORY_MAX_AGE_MS },
    publish: { maxDataBytes: e.PUBLISH_MAX_DATA_BYTES, tokens: e.PUBLISH_TOKENS ?? [] },
  });
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
