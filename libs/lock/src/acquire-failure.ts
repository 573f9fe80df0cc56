import { ExecutionError, type ExecutionStats, ResourceLockedError } from '@sesamecare-oss/redlock';

/** Why a try-lock failed: another holder has the pair (409), or Redis could not decide (503). */
export type AcquireFailure = 'busy' | 'unavailable';

/**
 * Classifies a failed `redlock.acquire`. Redlock reports every failure as "unable to achieve a
 * quorum"; the reason is in the per-server votes. The pair counts as busy only when a QUORUM of
 * servers said "already locked": with 2 of 3 servers down and the third holding the key, nobody
 * provably holds the pair and Redis is degraded, so that is 503 (fail closed), not 409.
 */
export async function classifyAcquireFailure(error: unknown): Promise<AcquireFailure> {
  const stats = await lastAttempt(error);
  return stats && lockedVotes(stats) >= stats.quorumSize ? 'busy' : 'unavailable';
}

/** A readable reason for a failed redlock operation, from its votes when it has them. */
export async function explainRedlockFailure(error: unknown): Promise<string> {
  const stats = await lastAttempt(error);
  if (!stats) return error instanceof Error ? error.message : String(error);
  if (lockedVotes(stats) >= stats.quorumSize) return 'the lock is no longer ours (expired or taken)';
  const reasons = new Set([...stats.votesAgainst.values()].map((reason) => reason?.message ?? String(reason)));
  return `${stats.votesAgainst.size} of ${stats.membershipSize} lock servers refused: ${[...reasons].join('; ')}`;
}

async function lastAttempt(error: unknown): Promise<ExecutionStats | undefined> {
  if (!(error instanceof ExecutionError) || error.attempts.length === 0) return undefined;
  // With retryCount 0 there is one attempt; its stats resolve once every server has answered,
  // which the clients' command timeout bounds.
  return error.attempts[error.attempts.length - 1];
}

function lockedVotes(stats: ExecutionStats): number {
  let count = 0;
  for (const reason of stats.votesAgainst.values()) {
    if (reason instanceof ResourceLockedError || reason?.name === 'ResourceLockedError') count += 1;
  }
  return count;
}
