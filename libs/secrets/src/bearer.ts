import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The credential of an `Authorization: Bearer <token>` header; `undefined` when the header is
 * absent or uses another scheme, `''` when it says Bearer but carries no usable token.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || !/^Bearer(\s|$)/i.test(header)) return undefined;
  return BEARER.exec(header)?.[1] ?? '';
}

/** Compares candidates with one configured secret in constant time, whatever their lengths. */
export class SecretMatcher {
  private readonly expected: Buffer | undefined;

  constructor(secret: string | undefined) {
    this.expected = secret === undefined ? undefined : digest(secret);
  }

  get configured(): boolean {
    return this.expected !== undefined;
  }

  matches(candidate: string): boolean {
    // Comparing digests keeps the time independent of where the strings differ and of their lengths.
    return this.expected !== undefined && timingSafeEqual(digest(candidate), this.expected);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
