import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type CryptoKey,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  jwtVerify,
  type RemoteJWKSet,
} from 'jose';
import { isUuid } from '@app/ids';
import { MAX_TOKEN_ID_LENGTH } from './revoked-tokens.js';

/** The only signing algorithm of the shared secret. */
export const SECRET_ALGORITHMS = ['HS256'] as const;
/** Algorithms accepted from the identity provider's key set. */
export const KEY_SET_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Why a token was refused; a stable word for tests and logs (never the token itself). */
export type TokenRejection =
  'malformed' | 'algorithm' | 'signature' | 'unknown-key' | 'expired' | 'not-yet-valid' | 'claims' | 'revoked';

/** The token is not acceptable: the client's fault (401). */
export class TokenRejectedError extends Error {
  constructor(
    readonly reason: TokenRejection,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

/** The identity provider's key set could not be fetched and no earlier copy exists: our fault (503). */
export class KeySetUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the JSON Web Key Set is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'KeySetUnavailableError';
  }
}

export interface VerifiedToken {
  /** The user-id claim (`sub` by default): a UUID, lower-cased. */
  readonly userId: string;
  readonly expiresAt: Date;
  /** The token's `jti`, when it has a usable one: what signing out revokes. */
  readonly tokenId?: string;
}

export interface KeySetOptions {
  /** Whole fetch deadline. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** After a fetch, a token with an unknown `kid` triggers another only this much later. Default 30 s. */
  readonly cooldownMs?: number;
  /** Keys are fetched again when older than this. Default 10 min. */
  readonly maxAgeMs?: number;
}

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** The identity provider's JSON Web Key Set (RS256 / ES256 public keys). */
  readonly jwksUrl?: string;
  readonly keySet?: KeySetOptions;
  /** Required `iss`, when set. */
  readonly issuer?: string;
  /** A token must name one of these in `aud`, when set. */
  readonly audience?: readonly string[];
  /** The claim that holds the user id (a UUID). Default `sub`. */
  readonly userClaim?: string;
  /** Allowed clock skew for `exp` and `nbf`. Default 5 s. */
  readonly clockToleranceSeconds?: number;
  /** Verified tokens remembered (skipping the signature on their next use): at most this many, default 10,000. */
  readonly rememberTokens?: number;
  /** …each for at most this long, and never past its `exp`. Default 60 s. */
  readonly rememberMs?: number;
}

const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;
const DEFAULT_REMEMBER_TOKENS = 10_000;
const DEFAULT_REMEMBER_MS = 60_000;
const HMAC_SHA256 = { name: 'HMAC', hash: 'SHA-256' } as const;

/**
 * Verifies users' JWTs with the `jose` library: HS256 with the shared secret and/or RS256/ES256
 * with the keys of a JSON Web Key Set (fetched on first use, cached, fetched again when stale or
 * when a token names an unknown key, and kept in use while the provider is unreachable).
 *
 * The key is chosen by the token's `alg` among the algorithms configured, so `alg: none` and
 * algorithm confusion (an HS256 token "signed" with a provider's public key) never verify.
 * `exp` (a representable date) and the user-id claim (`sub`, a UUID) are required; `nbf`, `iss` and `aud` are checked when present
 * or configured.
 *
 * A client presents the same token on every request, so a verified token is remembered — by its
 * whole text, for at most `rememberMs` and never past the moment it expires (clock skew allowed
 * included) — and its next use skips the signature. The memory is bounded (`rememberTokens`, the
 * oldest forgotten first). Revocation is not remembered: it is the caller's check, every time.
 */
export class TokenVerifier {
  readonly algorithms: readonly string[];
  /** Imported once: given raw secret bytes, jose imports them again for every token (≈ 40 % of the cost). */
  private readonly secret: Promise<CryptoKey> | undefined;
  private readonly keySet: ResilientKeySet | undefined;
  private readonly userClaim: string;
  private readonly remembered = new Map<string, { verified: VerifiedToken; untilMs: number }>();
  private readonly rememberTokens: number;
  private readonly rememberMs: number;

  constructor(private readonly options: TokenVerifierOptions) {
    this.userClaim = options.userClaim ?? 'sub';
    this.rememberTokens = options.rememberTokens ?? DEFAULT_REMEMBER_TOKENS;
    this.rememberMs = options.rememberMs ?? DEFAULT_REMEMBER_MS;
    if (!options.secret && !options.jwksUrl) throw new Error('TokenVerifier needs a secret or a JWKS URL');
    this.secret = options.secret
      ? crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), HMAC_SHA256, false, ['verify'])
      : undefined;
    this.keySet = options.jwksUrl ? new ResilientKeySet(new URL(options.jwksUrl), options.keySet ?? {}) : undefined;
    this.algorithms = [...(this.secret ? SECRET_ALGORITHMS : []), ...(this.keySet ? KEY_SET_ALGORITHMS : [])];
  }

  /** How many verified tokens are remembered now. */
  get rememberedTokens(): number {
    return this.remembered.size;
  }

  /** Resolves with the token's user, or rejects with `TokenRejectedError` / `KeySetUnavailableError`. */
  async verify(token: string): Promise<VerifiedToken> {
    const nowMs = Date.now();
    const known = this.remembered.get(token);
    if (known !== undefined) {
      if (nowMs < known.untilMs) return known.verified;
      this.remembered.delete(token);
    }
    const verified = await this.verifySignature(token);
    this.remember(token, verified, nowMs);
    return verified;
  }

  private remember(token: string, verified: VerifiedToken, nowMs: number): void {
    if (this.rememberTokens <= 0 || this.rememberMs <= 0) return;
    // jose accepts a token while now < exp + tolerance (whole seconds): so does the memory.
    const tolerance = this.options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    const untilMs = Math.min(nowMs + this.rememberMs, verified.expiresAt.getTime() + tolerance * 1000);
    if (this.remembered.size >= this.rememberTokens) {
      this.remembered.delete(this.remembered.keys().next().value!);
    }
    this.remembered.set(token, { verified, untilMs });
  }

  private async verifySignature(token: string): Promise<VerifiedToken> {
    let payload;
    try {
      // With the secret alone its key is passed as is; jose still checks `alg` against `algorithms`.
      const key = this.keySet ? this.keyFor : await this.secret!;
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [...this.algorithms],
        requiredClaims: ['exp', this.userClaim],
        issuer: this.options.issuer,
        audience: this.options.audience ? [...this.options.audience] : undefined,
        clockTolerance: this.options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw classify(error);
    }
    // User ids are UUIDs: anything else (padding, a path or a query) never reaches a URL or a key.
    const userId = payload[this.userClaim];
    if (!isUuid(userId)) {
      throw new TokenRejectedError('claims', `the token's "${this.userClaim}" claim is not a user id (a UUID)`);
    }
    const expiresAt = new Date(payload.exp! * 1000);
    if (Number.isNaN(expiresAt.getTime())) {
      throw new TokenRejectedError('claims', `the token's "exp" claim is not a date`);
    }
    const tokenId =
      typeof payload.jti === 'string' && payload.jti !== '' && payload.jti.length <= MAX_TOKEN_ID_LENGTH
        ? payload.jti
        : undefined;
    return { userId: userId.toLowerCase(), expiresAt, ...(tokenId ? { tokenId } : {}) };
  }

  /** jose calls this with the (not yet verified) header, after checking `alg` against `algorithms`. */
  private readonly keyFor = async (header: JWSHeaderParameters, input: FlattenedJWSInput): Promise<CryptoKey> => {
    if (header.alg === 'HS256' && this.secret) return this.secret;
    if (this.keySet && header.alg !== 'HS256') return this.keySet.resolve(header, input);
    throw new TokenRejectedError('algorithm', `algorithm ${String(header.alg)} is not accepted`);
  };
}

/**
 * jose's remote key set, plus: a provider that cannot be reached does not take the service down
 * while an earlier copy of its keys exists (used, and the fetch retried only after the cooldown).
 */
class ResilientKeySet {
  private readonly remote: RemoteJWKSet;
  private readonly cooldownMs: number;
  private stale: { jwks: JSONWebKeySet; resolve: ReturnType<typeof createLocalJWKSet> } | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(url: URL, options: KeySetOptions) {
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.remote = createRemoteJWKSet(url, {
      timeoutDuration: options.timeoutMs ?? 2000,
      cooldownDuration: this.cooldownMs,
      cacheMaxAge: options.maxAgeMs ?? 600_000,
    });
  }

  async resolve(header: JWSHeaderParameters, input: FlattenedJWSInput): Promise<CryptoKey> {
    if (performance.now() - this.failedAt < this.cooldownMs && this.staleCopy()) {
      return this.fromStale(header, input);
    }
    try {
      const key = await this.remote(header, input);
      this.failedAt = Number.NEGATIVE_INFINITY;
      return key;
    } catch (error) {
      if (isKeyMismatch(error)) throw error;
      this.failedAt = performance.now();
      if (!this.staleCopy()) throw new KeySetUnavailableError(error);
      return this.fromStale(header, input);
    }
  }

  private staleCopy(): boolean {
    const jwks = this.remote.jwks();
    if (jwks === undefined) return false;
    if (this.stale === undefined || JSON.stringify(this.stale.jwks) !== JSON.stringify(jwks)) {
      this.stale = { jwks, resolve: createLocalJWKSet(jwks) };
    }
    return true;
  }

  private fromStale(header: JWSHeaderParameters, input: FlattenedJWSInput): Promise<CryptoKey> {
    return this.stale!.resolve(header, input);
  }
}

function isKeyMismatch(error: unknown): boolean {
  return error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys;
}

/** Maps what jose throws to a rejection reason; provider outages stay `KeySetUnavailableError`. */
function classify(error: unknown): Error {
  if (error instanceof TokenRejectedError || error instanceof KeySetUnavailableError) return error;
  if (error instanceof errors.JWTExpired) return new TokenRejectedError('expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return new TokenRejectedError('not-yet-valid', 'the token is not valid yet');
    return new TokenRejectedError('claims', `the token's "${error.claim}" claim is missing or not accepted`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new TokenRejectedError('algorithm', 'the token is signed with an algorithm that is not accepted');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenRejectedError('signature', 'the token signature is not valid');
  }
  if (isKeyMismatch(error)) return new TokenRejectedError('unknown-key', 'the token is signed with an unknown key');
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof TypeError) {
    return new TokenRejectedError('malformed', 'the token is not a well-formed JWT');
  }
  if (error instanceof errors.JOSEError) return new TokenRejectedError('malformed', 'the token cannot be verified');
  return error instanceof Error ? error : new Error(String(error));
}
