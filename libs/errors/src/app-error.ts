import { type ErrorBody, type ErrorCode, statusOf } from './error-catalog.js';

export interface AppErrorOptions {
  details?: unknown;
  /** Seconds for a `Retry-After` header (503s). */
  retryAfterSeconds?: number;
  /** The `WWW-Authenticate` challenge of a 401 (default `Bearer`). */
  challenge?: string;
  cause?: unknown;
}

/** The one error type libs and services throw; the app's exception filter maps it to HTTP. */
export class AppError extends Error {
  readonly status: number;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;
  readonly challenge: string | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = statusOf(code);
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.challenge = options.challenge;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { statusCode: this.status, code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }

  static dependencyUnavailable(dependency: string, cause?: unknown): AppError {
    return new AppError('DEPENDENCY_UNAVAILABLE', `${dependency} is unavailable, try again shortly`, {
      retryAfterSeconds: 1,
      details: { dependency },
      cause,
    });
  }
}
