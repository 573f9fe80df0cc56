import { AppError } from '@app/errors';

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

/** The largest `Last-Event-ID` accepted: far beyond any real sequence, well inside exact integers. */
export const MAX_EVENT_ID = 2 ** 50;

/**
 * The `Last-Event-ID` request header: the `seq` of the last event the client received. Absent
 * or empty (EventSource sends none before its first event) → undefined. Anything but a decimal
 * integer in [0, 2^50] is a 400: our ids are always such integers, so another value is a bug.
 */
export function parseLastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const raw = (Array.isArray(header) ? header.join(',') : header).trim();
  if (raw === '') return undefined;
  const seq = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(seq <= MAX_EVENT_ID)) {
    throw AppError.of('INVALID_LAST_EVENT_ID', { max: MAX_EVENT_ID, value: raw });
  }
  return seq;
}

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
