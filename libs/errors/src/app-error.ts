import { STATUS_CODES } from 'node:http';
import {
  CODE_FOR_STATUS,
  ERROR_CATALOG,
  type CatalogEntry,
  type ErrorBody,
  type ErrorCode,
  type ErrorParams,
} from './error-catalog.js';

export interface AppErrorOptions {
  /** The `WWW-Authenticate` challenge of a 401 (default `Bearer`). */
  challenge?: string;
  cause?: unknown;
}

/** `AppError.of`'s arguments after the code: the parameters its message needs (none for a fixed text). */
export type AppErrorArgs<C extends ErrorCode> =
  ErrorParams<C> extends Record<string, never>
    ? [params?: Record<string, never>, options?: AppErrorOptions]
    : [params: ErrorParams<C>, options?: AppErrorOptions];

/**
 * The one error type libs and services throw; the app's exception filter maps it to HTTP. Built
 * from its catalog entry (`AppError.of`), so status, message, details and `Retry-After` are the
 * catalog's; the only other sources of a message are a framework's own words for a generic status
 * (`forStatus`) and another of our services' answer passed on (`relay`).
 */
export class AppError extends Error {
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly challenge: string | undefined;

  private constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown,
    options: AppErrorOptions,
    retryAfterSeconds?: number,
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    const entry: CatalogEntry<never> = ERROR_CATALOG[code];
    this.status = entry.status;
    this.retryAfterSeconds =
      retryAfterSeconds ?? (typeof entry.retryAfterSeconds === 'number' ? entry.retryAfterSeconds : undefined);
    this.challenge = options.challenge;
  }

  /** The error of catalog entry `code`, its message and details filled in from `params`. */
  static of<C extends ErrorCode>(code: C, ...[params, options = {}]: AppErrorArgs<C>): AppError {
    // The parameter types are checked at the call (AppErrorArgs); the entry reads what it declared.
    const entry = ERROR_CATALOG[code] as unknown as CatalogEntry<unknown>;
    const message = typeof entry.message === 'string' ? entry.message : entry.message(params);
    const retryAfter = typeof entry.retryAfterSeconds === 'function' ? entry.retryAfterSeconds(params) : undefined;
    return new AppError(code, message, entry.details?.(params), options, retryAfter);
  }

  /** `dependency` (base, redis, cassandra, the identity provider) cannot be reached: 503 with `Retry-After`. */
  static dependencyUnavailable(dependency: string, cause?: unknown): AppError {
    return AppError.of('DEPENDENCY_UNAVAILABLE', { dependency }, { cause });
  }

  /**
   * A framework's refusal (Nest's `HttpException`, Fastify's request errors) under the generic code
   * of its status, in the framework's own words (they name the route or the limit) — or, when it
   * said nothing, the catalog's or HTTP's name of the status; undefined for a status without a
   * generic code.
   */
  static forStatus(status: number, said: string | undefined): AppError | undefined {
    const code = CODE_FOR_STATUS[status];
    if (code === undefined) return undefined;
    const entry: CatalogEntry<never> = ERROR_CATALOG[code];
    const fallback = typeof entry.message === 'string' ? entry.message : (STATUS_CODES[status] ?? code);
    return new AppError(code, said || fallback, undefined, {});
  }

  /**
   * Another of our services' answer (`from`), passed on as it was: its code — which must carry the
   * status it came with, else undefined — message and details.
   */
  static relay(
    from: string,
    status: number,
    body: { code: ErrorCode; message?: unknown; details?: unknown },
  ): AppError | undefined {
    if (ERROR_CATALOG[body.code].status !== status) return undefined;
    const message = typeof body.message === 'string' ? body.message : `${from} answered ${status} ${body.code}`;
    return new AppError(body.code, message, body.details, {});
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { statusCode: this.status, code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}
