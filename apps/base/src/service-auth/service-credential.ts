import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { BaseConfig } from '@app/config';
import { AppError } from '@app/errors';
import { sendAppError } from '@app/http';
import { bearerToken, SecretMatcher } from '@app/secrets';

/** Paths anyone who reaches base may read: the kubelet's probes and Prometheus (the network restricts who). */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * base is internal: every request but the probes and `/metrics` must carry, as
 * `Authorization: Bearer`, the internal service credential (`INTERNAL_TOKEN`, what main, stream
 * and the migration Job are given) or the admin token. Checked before routing, so an unknown
 * route, a write and a read are refused alike (401), and nothing else in base has to remember it.
 */
export class ServiceCredentialCheck {
  private readonly internal: SecretMatcher;
  private readonly admin: SecretMatcher;

  constructor(internalToken: string | undefined, adminToken: string | undefined) {
    this.internal = new SecretMatcher(internalToken);
    this.admin = new SecretMatcher(adminToken);
  }

  /** Whether any credential is configured at all (without one, base answers only the open paths). */
  get configured(): boolean {
    return this.internal.configured || this.admin.configured;
  }

  /** The refusal for a request to `url` with `authorization`, or undefined when it may pass. */
  refusal(url: string, authorization: string | undefined): AppError | undefined {
    if (OPEN_PATHS.has(url.split('?')[0]!)) return undefined;
    const token = bearerToken(authorization);
    if (!token) return AppError.of('UNAUTHENTICATED', { token: 'service-missing' });
    if (this.internal.matches(token) || this.admin.matches(token)) return undefined;
    return AppError.of(
      'UNAUTHENTICATED',
      {
        token: 'invalid',
        transport: 'header',
        problem: 'not the service credential nor the admin token',
        reason: 'unknown-credential',
      },
      { challenge: 'Bearer error="invalid_token"' },
    );
  }
}

/** Installs the check as base's first `onRequest` hook. */
export function requireServiceCredential(app: NestFastifyApplication, config: BaseConfig): ServiceCredentialCheck {
  const check = new ServiceCredentialCheck(config.internalToken, config.adminToken);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      const refusal = check.refusal(request.url, request.headers.authorization);
      if (refusal) return sendAppError(reply, refusal);
    });
  return check;
}
