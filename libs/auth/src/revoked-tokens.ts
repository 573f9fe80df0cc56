/** Token ids (`jti`) revoked before their expiry: signing out. */
export interface RevokedTokens {
  /** Whether `tokenId` was revoked. Rejects when the list cannot be read. */
  isRevoked(tokenId: string): Promise<boolean>;
  /** Revokes `tokenId` until `expiresAt` (afterwards the token is refused as expired anyway). */
  revoke(tokenId: string, expiresAt: Date): Promise<void>;
}

/** What `RedisRevokedTokens` needs of a Redis client (ioredis fits). */
export interface RevocationStore {
  exists(key: string): Promise<number>;
  set(key: string, value: string, mode: 'PXAT', unixTimeMs: number): Promise<unknown>;
}

/** The longest token id kept: a `jti` is a UUID here; anything far longer is not one of ours. */
export const MAX_TOKEN_ID_LENGTH = 128;

/**
 * The deny-list in Redis (`REDIS_URL`): `kubescaler:revoked:<jti>`, expiring with the token, so it
 * holds only sessions that are both revoked and otherwise still valid.
 */
export class RedisRevokedTokens implements RevokedTokens {
  constructor(private readonly redis: RevocationStore) {}

  async isRevoked(tokenId: string): Promise<boolean> {
    return (await this.redis.exists(revokedKey(tokenId))) === 1;
  }

  async revoke(tokenId: string, expiresAt: Date): Promise<void> {
    if (expiresAt.getTime() <= Date.now()) return;
    await this.redis.set(revokedKey(tokenId), '1', 'PXAT', expiresAt.getTime());
  }
}

export function revokedKey(tokenId: string): string {
  return `kubescaler:revoked:${tokenId}`;
}
