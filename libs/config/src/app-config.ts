export type AppName = 'base' | 'main' | 'stream';

/** Where a stream's events come from: the demo generator, published events, or both (`STREAM_SOURCES`). */
export const STREAM_SOURCE_NAMES = ['generator', 'published'] as const;
export type StreamSourceName = (typeof STREAM_SOURCE_NAMES)[number];

/** Nest's log levels, most severe first; a level shows itself and every one before it. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `json`: one JSON object per line (production); `pretty`: one readable line per event (a terminal). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `jwt`: users' tokens are required; `open`: nothing is authorized (an explicit, logged choice). */
export type AuthMode = 'jwt' | 'open';

/** How users' tokens are verified and issued (main and stream). */
export interface AuthConfig {
  readonly mode: AuthMode;
  /** HS256 key (at least 32 bytes); also signs development sessions. */
  readonly jwtSecret: string | undefined;
  /** JSON Web Key Set of an identity provider (RS256 / ES256 keys). */
  readonly jwksUrl: string | undefined;
  /** Required `iss` of every token, when set. */
  readonly issuer: string | undefined;
  /** Accepted `aud` values (a token must name one), when set. */
  readonly audience: readonly string[] | undefined;
  /** The claim that holds the user id (`sub` unless the identity provider puts it elsewhere). */
  readonly userClaim: string;
  /** `POST /main/dev-login` exists: anyone may sign in as any existing user. Never in production. */
  readonly devLogin: boolean;
}

/** The whole validated configuration of one app. Frozen; built once by `loadConfig`. */
export interface AppConfig {
  readonly app: AppName;
  readonly podName: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly http: { readonly host: string; readonly port: number };
  /** Undefined when no token is configured: admin endpoints then refuse every call. */
  readonly adminToken: string | undefined;
  readonly auth: AuthConfig;
  readonly baseUrl: string;
  readonly cassandra: {
    readonly contactPoints: readonly string[];
    readonly localDc: string;
    readonly keyspace: string;
    readonly replicationFactor: number;
    readonly requestTimeoutMs: number;
  };
  readonly redis: {
    /** The lock server when `REDIS_LOCK_URLS` is unset; otherwise only for data that may be lost. */
    readonly url: string;
    /** The lock servers: distinct servers (checked), a majority of which must agree. */
    readonly lockUrls: readonly string[];
    readonly commandTimeoutMs: number;
  };
  /** Valid but doubtful settings, logged once at start. */
  readonly warnings: readonly string[];
  readonly lock: { readonly ttlMs: number; readonly renewMs: number };
  readonly stream: {
    readonly eventsPerSecond: number;
    readonly eventBytes: number;
    readonly maxBufferBytes: number;
    readonly maxConnections: number;
    readonly heartbeatMs: number;
    readonly stallTimeoutMs: number;
    /** An event that cannot leave the process this long after its due time is dropped. */
    readonly maxLagMs: number;
    /** TCP_NOTSENT_LOWAT of every SSE socket (unsent bytes the kernel queues); 0 leaves the kernel default. */
    readonly notsentLowatBytes: number;
    /** The sources every stream of this deployment carries, in order. */
    readonly sources: readonly StreamSourceName[];
    /** Live streams one user may have across every pod; beyond → 429. */
    readonly maxPerUser: number;
  };
  /** Each pair's history of published events (main writes it, stream reads it). */
  readonly history: { readonly maxEvents: number; readonly maxAgeMs: number };
  readonly publish: {
    /** Largest `data` of one published event, as JSON text. */
    readonly maxDataBytes: number;
    /** Publisher credentials (`PUBLISH_TOKENS`): bearer tokens that may publish to any pair. */
    readonly tokens: readonly string[];
  };
}
