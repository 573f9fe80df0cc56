import { type INestApplication, Logger, StandardSchemaValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { AppConfig } from '@app/config';
import { AppError } from '@app/errors';
import { AppExceptionFilter } from './app-exception.filter.js';
import { handleClientError } from './client-error.js';
import { useStrictJsonParser } from './strict-json.js';
import { bootLogger, recordRequestIdentity, requestIdOf } from './logging.js';

/** Request bodies above this are refused with 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Fastify with the 1 MiB body limit and only its JSON body parser (text/plain removed; the app is
 * created with Nest's own parsers off, so form bodies — a CORS "simple" request — are 415 too).
 */
export function createFastifyAdapter(): FastifyAdapter {
  // While closing, requests still reach the app, which answers them with its own 503s (DRAINING).
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: false,
    clientErrorHandler: handleClientError,
    // The request log's id (Nest's middleware sees Fastify's id on the raw request).
    requestIdHeader: false,
    genReqId: requestIdOf,
  });
  adapter.getInstance().removeContentTypeParser('text/plain');
  useStrictJsonParser(adapter.getInstance());
  recordRequestIdentity(adapter.getInstance());
  return adapter;
}

/** The validation pipe every app uses: schema issues become one 400 `VALIDATION_FAILED`. */
export function createValidationPipe(): StandardSchemaValidationPipe {
  return new StandardSchemaValidationPipe({
    exceptionFactory: (issues) => {
      const problems = issues.map((issue) => {
        const path = (issue.path ?? [])
          .map((part) => (typeof part === 'object' ? String(part.key) : String(part)))
          .join('.');
        return path ? `${path}: ${issue.message}` : issue.message;
      });
      // A refused display name (NUL, CR/LF, bidi controls …) has a code of its own.
      return issues.some(isInvalidName)
        ? AppError.of('INVALID_NAME', { problem: problems.join('; ') })
        : AppError.of('VALIDATION_FAILED', { problems });
    },
  });
}

function isInvalidName(issue: object): boolean {
  return (issue as { params?: { code?: unknown } }).params?.code === 'INVALID_NAME';
}

/** The signals on which an app shuts down cleanly. */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Filter, validation and shutdown hooks shared by every app (and by tests that build one). */
export function configureHttpApp<T extends INestApplication>(app: T): T {
  app.useGlobalFilters(new AppExceptionFilter());
  app.useGlobalPipes(createValidationPipe());
  // Only the signals that mean "stop" (Kubernetes, a terminal, a closed session): Nest's default
  // list also takes SIGUSR2 and the like, which Node's diagnostics (heap snapshots on a signal) use.
  app.enableShutdownHooks(SHUTDOWN_SIGNALS);
  return app;
}

/** Builds, configures and starts one app on `config.http`, logging where it listens. */
export async function bootstrapHttpApp(
  rootModule: unknown,
  config: AppConfig,
  beforeListen?: (app: NestFastifyApplication) => void | Promise<void>,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as never, createFastifyAdapter(), {
    // Until the app's own logger (its root module's loggingModule) takes over, just below.
    logger: bootLogger(config),
    // Nest would add JSON and urlencoded parsers; Fastify's own JSON parser is the only one wanted.
    bodyParser: false,
  });
  app.useLogger(app.get(PinoLogger));
  for (const warning of config.warnings) new Logger('Config').warn(warning);
  configureHttpApp(app);
  await beforeListen?.(app);
  await app.listen({ port: config.http.port, host: config.http.host });
  const { port } = app.getHttpServer().address() as { port: number };
  new Logger('Bootstrap').log(`${config.app} listening on http://${config.http.host}:${port} (pod ${config.podName})`);
  return app;
}
