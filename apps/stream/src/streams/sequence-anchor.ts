/**
 * Where a pair's sequence stands, so that whichever pod serves the pair next continues it: event
 * `seq` carried the wall-clock `timestamp` (epoch ms), and one event falls due every `periodMs`
 * after it. Saved when a stream starts, every `SEQUENCE_ANCHOR_REFRESH_MS` while it runs and
 * when it ends.
 */
export interface SequenceAnchor {
  readonly seq: number;
  readonly timestamp: number;
  readonly periodMs: number;
}

/** The largest seq: far beyond any real sequence, well inside exact integers; after it the sequence starts again at 1. */
export const MAX_EVENT_ID = 2 ** 50;

/**
 * The seq a resumed stream continues after, so that the gap the client counts equals the events
 * that fell due while it was away: those due since the anchor by this pod's wall clock, never
 * less than what the client already has (a client ahead of the anchor, or this pod's clock
 * behind the previous pod's, never makes the sequence go backwards). Without an anchor (expired
 * or never saved) the gap cannot be known and the stream continues right after `lastEventId`.
 */
export function continueSequence(lastEventId: number, anchor: SequenceAnchor | undefined, nowEpochMs: number): number {
  if (!anchor) return lastEventId;
  const due = anchor.seq + Math.max(0, Math.floor((nowEpochMs - anchor.timestamp) / anchor.periodMs));
  return Math.min(MAX_EVENT_ID, Math.max(lastEventId, due));
}

/** A stored anchor, or undefined when the value is missing or not one. */
export function parseSequenceAnchor(raw: string | null | undefined): SequenceAnchor | undefined {
  if (!raw) return undefined;
  try {
    const { seq, timestamp, periodMs } = JSON.parse(raw) as Partial<SequenceAnchor>;
    const valid =
      Number.isSafeInteger(seq) &&
      seq! >= 0 &&
      Number.isFinite(timestamp) &&
      typeof periodMs === 'number' &&
      periodMs > 0 &&
      Number.isFinite(periodMs);
    return valid ? { seq: seq!, timestamp: timestamp!, periodMs } : undefined;
  } catch {
    return undefined;
  }
}
