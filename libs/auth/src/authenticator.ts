import { Logger } from '@nestjs/common';
import type { AuthConfig } from '@app/config';
import { AppError } from '@app/errors';
import { SecretMatcher } from '@app/secrets';
import { type CredentialSource, extractCredential, type Transport } from './credentials.js';
import type { RevokedTokens } from './revoked-tokens.js';
import { KeySetUnavailableError, TokenRejectedError, TokenVerifier, type KeySetOptions } from './token-verifier.js';

/** Who is asking. */
export type Principal =
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly expiresAt: Date;
      readonly transport: Transport;
      /** The token's `jti`, when it has one (what signing out revokes). */
      readonly tokenId?: string;
    }
  | { readonly kind: 'admin' }
  | { readonly kind: 'anonymous' };

export interface AuthenticateOptions {
  /** Also accept `ADMIN_TOKEN` as a bearer token (main's read endpoints; never a stream). */
  readonly admin?: boolean;
}

const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** RFC 6750 challenges: none presented, or a presented token that failed. */
export const CHALLENGE = 'Bearer';
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * Turns a request's credential into a `Principal` and decides the access rules. Pure logic over
 * the configuration (no Nest), shared by main's guard and stream's admission.
 *
 * Error messages say what is wrong with a token, never what it contains.
 */
export class Authenticator {
  private readonly verifier: TokenVerifier | undefined;
  private readonly admin: SecretMatcher;

  private readonly logger = new Logger('Authenticator');

  constructor(
    readonly config: AuthConfig,
    adminToken: string | undefined,
    keySet?: KeySetOptions,
    /** Signed-out sessions; without it a token is valid until its `exp`. */
    private readonly revoked?: RevokedTokens,
  ) {
    this.admin = new SecretMatcher(adminToken);
    this.verifier =
      config.jwtSecret || config.jwksUrl
        ? new TokenVerifier({
            secret: config.jwtSecret,
            jwksUrl: config.jwksUrl,
            issuer: config.issuer,
            audience: config.audience,
            userClaim: config.userClaim,
            keySet,
          })
        : undefined;
  }

  /** `AUTH_MODE=open`: every access rule passes. */
  get open(): boolean {
    return this.config.mode === 'open';
  }

  /**
   * The request's principal: anonymous without a credential; 401 `UNAUTHENTICATED` for a
   * credential that does not verify; 503 when the identity provider's keys cannot be had.
   * In open mode a bad credential is ignored (anonymous) rather than refused.
   */
  async authenticate(source: CredentialSource, options: AuthenticateOptions = {}): Promise<Principal> {
    const credential = extractCredential(source);
    if (credential === undefined) return ANONYMOUS;
    if (options.admin && credential.transport === 'header' && this.admin.matches(credential.token)) {
      return { kind: 'admin' };
    }
    try {
      if (!this.verifier) throw new TokenRejectedError('algorithm', 'no token verification is configured');
      if (credential.token === '') throw new TokenRejectedError('malformed', 'the token is empty');
      const verified = await this.verifier.verify(credential.token);
      if (verified.tokenId && (await this.isRevoked(verified.tokenId))) {
        throw new TokenRejectedError('revoked', 'the session was signed out');
      }
      return {
        kind: 'user',
        userId: verified.userId,
        expiresAt: verified.expiresAt,
        transport: credential.transport,
        ...(verified.tokenId ? { tokenId: verified.tokenId } : {}),
      };
    } catch (error) {
      if (this.open) return ANONYMOUS;
      if (error instanceof TokenRejectedError) {
        throw AppError.of(
          'UNAUTHENTICATED',
          { token: 'invalid', transport: credential.transport, problem: error.message, reason: error.reason },
          { challenge: INVALID_TOKEN_CHALLENGE },
        );
      }
      if (error instanceof KeySetUnavailableError) throw AppError.dependencyUnavailable('identity provider', error);
      throw error;
    }
  }

  /** Revokes the principal's token until it expires (signing out); nothing for a token without an id. */
  async revoke(principal: Principal): Promise<void> {
    if (principal.kind !== 'user' || !principal.tokenId || !this.revoked) return;
    await this.revoked.revoke(principal.tokenId, principal.expiresAt);
  }

  /**
   * Whether the deny-list names the token. A list that cannot be read (Redis down) does not make
   * every request fail: the token is then judged on its own, as without a deny-list — logged.
   */
  private async isRevoked(tokenId: string): Promise<boolean> {
    if (!this.revoked) return false;
    try {
      return await this.revoked.isRevoked(tokenId);
    } catch (error) {
      this.logger.warn(
        `the list of signed-out sessions cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      );
      return false;
    }
  }

  /** `userId`'s own resources: that user's token (or, with `admin`, the admin token). */
  requireUser(principal: Principal, userId: string, options: AuthenticateOptions = {}): void {
    if (this.open) return;
    if (principal.kind === 'user' && principal.userId === userId) return;
    if (principal.kind === 'admin' && options.admin) return;
    if (principal.kind === 'anonymous') throw missingToken();
    throw AppError.of('FORBIDDEN', { because: 'another-user' });
  }

  /**
   * Lists that reveal every user and pair: the admin token only — except where anyone may sign in
   * as anyone anyway (development sign-in) or nothing is authorized (open mode).
   */
  requireDirectory(principal: Principal): void {
    if (this.open || this.config.devLogin || principal.kind === 'admin') return;
    if (principal.kind === 'anonymous') throw missingToken();
    throw AppError.of('FORBIDDEN', { because: 'directory' });
  }

  /** A signed-in user, whoever it is. */
  requireSignedIn(principal: Principal): asserts principal is Extract<Principal, { kind: 'user' }> {
    if (principal.kind === 'user') return;
    if (principal.kind === 'anonymous') throw missingToken();
    throw AppError.of('FORBIDDEN', { because: 'admin-is-no-user' });
  }
}

function missingToken(): AppError {
  return AppError.of('UNAUTHENTICATED', { token: 'user-missing' }, { challenge: CHALLENGE });
}
