import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, type LoggerService, RequestMethod } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { LoggerModule, type Params } from 'nestjs-pino';
import {
  type DestinationStream,
  destination,
  type LevelWithSilent,
  type LoggerOptions,
  pino,
  stdTimeFunctions,
} from 'pino';
import type { Options as HttpLoggerOptions } from 'pino-http';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from '@app/config';
import { redactSecrets } from './log-redaction.js';

/** What the logger needs to know of the app. */
export interface LoggingConfig {
  readonly app: string;
  readonly podName: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** Nest's level names → pino's. */
const PINO_LEVEL: Record<LogLevel, LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** The request id header: taken from the caller (the gateway) when well formed, and answered. */
export const REQUEST_ID_HEADER = 'x-request-id';
const REQUEST_ID = /^[\w.:-]{1,64}$/;

/** Set on the raw request by a Fastify hook: the matched route's pattern, never its values or query. */
const ROUTE = Symbol('route');
type RoutedRequest = IncomingMessage & { [ROUTE]?: string };

/** Routes that probes and Prometheus call every few seconds: logged at debug, not info. */
const QUIET_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready', '/metrics']);

/** Object keys whose values are secrets wherever they appear in a logged object. */
const SECRET_PATHS = [
  'authorization',
  'cookie',
  'token',
  'password',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** A request's id: the caller's `X-Request-Id` (the gateway's) when well formed, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Answers each request's id in `X-Request-Id`, and records its route pattern on the raw request,
 * where the request logger (which sees only Node's request) finds it when the response ends.
 */
export function recordRequestIdentity(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    const pattern = request.routeOptions.url;
    if (pattern !== undefined) (request.raw as RoutedRequest)[ROUTE] = pattern;
    done();
  });
}

/** The route of a request for the log: its pattern, or (unmatched) its path without the query, redacted. */
export function routeOf(req: IncomingMessage): string {
  const pattern = (req as RoutedRequest)[ROUTE];
  if (pattern !== undefined) return pattern;
  const url = req.url ?? '';
  const query = url.search(/[?#]/);
  return redactSecrets(query < 0 ? url : url.slice(0, query));
}

/** Pino's options for one app: JSON lines with the app and pod as bindings, secrets redacted. */
export function pinoOptions(config: LoggingConfig): LoggerOptions {
  return {
    level: PINO_LEVEL[config.logLevel],
    base: { app: config.app, pod: config.podName },
    timestamp: stdTimeFunctions.isoTime,
    messageKey: 'msg',
    // JSON lines carry the level's name; the pretty printer wants pino's numbers.
    formatters: config.logFormat === 'json' ? { level: (label) => ({ level: label }) } : {},
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
    serializers: { err: serializeError },
  };
}

/**
 * An error as logged: its type, message and stack, redacted. The request logger hands its errors
 * over already made plain (`{ type, message, stack }`), so both shapes are read.
 */
export function serializeError(error: unknown): { type?: string; message: string; stack?: string } {
  if (typeof error !== 'object' || error === null) return { message: redactSecrets(String(error)) };
  const { name, type, message, stack } = error as Record<string, unknown>;
  const kind = typeof type === 'string' ? type : typeof name === 'string' ? name : undefined;
  return {
    ...(kind === undefined ? {} : { type: kind }),
    message: redactSecrets(typeof message === 'string' ? message : JSON.stringify(error)),
    ...(typeof stack === 'string' ? { stack: redactSecrets(stack) } : {}),
  };
}

/** Where the log goes: stdout as JSON lines, or a one-line human format for a terminal. */
export function logDestination(config: LoggingConfig): DestinationStream | undefined {
  if (config.logFormat === 'json') return undefined;
  return pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    // The message already says them (npm start prefixes each line with the app).
    ignore: 'pid,hostname,app,pod,reqId,context,method,route,status,durationMs',
    singleLine: true,
    messageFormat: (log, messageKey) =>
      (typeof log.context === 'string' ? `[${log.context}] ` : '') +
      String(log[messageKey]) +
      (typeof log.durationMs === 'number' ? ` ${log.durationMs} ms` : ''),
    hideObject: false,
    sync: true,
  });
}

/** The request log: one line per finished request with its id, method, route, status and duration. */
export function httpLoggerOptions(config: LoggingConfig): HttpLoggerOptions {
  return {
    ...pinoOptions(config),
    // Bindings of every line logged during the request: its id only (not the whole request).
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'reqId', responseTime: 'durationMs' },
    customLogLevel: (req, res, error) => {
      if (error) return 'error';
      // 503 is a refusal the app chose (draining, full, a dependency down), said as it happens at warn.
      if (res.statusCode === 503) return 'warn';
      if (res.statusCode >= 500) return 'error';
      return QUIET_ROUTES.has(routeOf(req)) ? 'debug' : 'info';
    },
    customSuccessMessage: (req, res) => `${req.method} ${routeOf(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${routeOf(req)} ${res.statusCode}`,
    customSuccessObject: (req, res, fields) => requestFields(req, res, fields),
    customErrorObject: (req, res, error, fields) => ({ ...requestFields(req, res, fields), err: error }),
  };
}

function requestFields(req: IncomingMessage, res: ServerResponse, fields: Record<string, unknown>) {
  return {
    method: req.method,
    route: routeOf(req),
    status: res.statusCode,
    durationMs: fields.durationMs,
    // A response the client left before it ended (an SSE stream closed by its reader, for one).
    ...(res.writableEnded ? {} : { aborted: true }),
  };
}

/** The app's logger: Nest's logs and the request log through one pino instance. */
export function loggingModule(config: LoggingConfig): DynamicModule {
  const destination = logDestination(config);
  const options = httpLoggerOptions(config);
  const params: Params = {
    pinoHttp: destination ? [options, destination] : options,
    forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
  };
  return LoggerModule.forRoot(params);
}

/**
 * A Nest logger over plain pino for what happens before the app's own logger exists (module
 * initialisation, a dependency that fails the boot): the same format and level, no request context.
 */
export function bootLogger(config: LoggingConfig): LoggerService {
  const logger = pino(pinoOptions(config), logDestination(config) ?? destination({ sync: true }));
  const write =
    (level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace') =>
    (message: unknown, ...rest: unknown[]) => {
      const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
      const fields = context === undefined ? {} : { context };
      if (message instanceof Error) logger[level]({ ...fields, err: message }, message.message);
      else if (typeof message === 'object' && message !== null) logger[level]({ ...fields, ...message });
      else logger[level](fields, String(message));
    };
  return {
    fatal: write('fatal'),
    error: write('error'),
    warn: write('warn'),
    log: write('info'),
    debug: write('debug'),
    verbose: write('trace'),
  };
}
