import { randomBytes } from 'node:crypto';
import { AppError } from '@app/errors';
import { isEntryId, NO_ENTRY } from '@app/events';
import { MAX_EVENT_ID } from './sequence-anchor.js';

/**
 * Where a client stands in its pair's stream, as every event id it receives spells it:
 * `<seq>.<entry>.<session>` —
 * - `seq`: the generator's sequence (0–2^50; after 2^50 it starts again at 1), whose gaps are
 *   the events dropped for this client; 0 until the first generated event;
 * - `entry`: the last published event it was sent, a Redis stream entry id `<ms>-<n>` (`0-0`
 *   before any), the id `POST /main/publish` answered with;
 * - `session`: 16 hex digits naming the client session (one EventSource, across its reconnects).
 *
 * Every id the server emits is accepted back as `Last-Event-ID` (checked in the unit tests).
 */
export interface StreamPosition {
  readonly seq: number;
  readonly entry: string;
  readonly session: string;
}

/** What a `Last-Event-ID` tells: always a seq; the entry and the session when it is a full id. */
export interface ResumePoint {
  readonly seq: number;
  readonly entry?: string;
  readonly session?: string;
}

const SESSION = /^[0-9a-f]{16}$/;
const FULL_ID = /^(\d{1,16})\.(\d{1,20}-\d{1,20})\.([0-9a-f]{16})$/;
const BARE_SEQ = /^\d{1,16}$/;

/** A new client session's name: 64 random bits. */
export function newSession(): string {
  return randomBytes(8).toString('hex');
}

export function formatEventId({ seq, entry, session }: StreamPosition): string {
  return `${seq}.${entry}.${session}`;
}

/** The generator's next seq after `seq`: it never exceeds what `parseLastEventId` accepts. */
export function nextSeq(seq: number): number {
  return seq >= MAX_EVENT_ID ? 1 : seq + 1;
}

/**
 * The `Last-Event-ID` request header. Absent or empty (EventSource sends none before its first
 * id) → undefined. A full id or a bare seq (what this service sent before ids carried sessions)
 * → its parts; anything else is a 400: our ids are always such values, so another is a bug.
 */
export function parseLastEventId(header: string | string[] | undefined): ResumePoint | undefined {
  if (header === undefined) return undefined;
  const raw = (Array.isArray(header) ? header.join(',') : header).trim();
  if (raw === '') return undefined;
  const full = FULL_ID.exec(raw);
  const seq = Number(full ? full[1] : BARE_SEQ.test(raw) ? raw : Number.NaN);
  if (!(seq <= MAX_EVENT_ID) || (full && !isEntryId(full[2]!))) {
    throw AppError.of('INVALID_LAST_EVENT_ID', { max: MAX_EVENT_ID, value: raw });
  }
  return full ? { seq, entry: full[2]!, session: full[3]! } : { seq };
}

/** Whether `value` names a session as ids carry it. */
export function isSession(value: string | undefined): value is string {
  return value !== undefined && SESSION.test(value);
}

export { NO_ENTRY };
