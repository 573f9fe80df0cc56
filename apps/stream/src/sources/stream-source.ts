import type { StreamSourceName } from '@app/config';
import type { ResumePoint } from '../streams/event-id.js';

/** One event a source hands to the stream it feeds. */
export interface SourceEvent {
  /** The SSE event name; undefined for the default (`message`). */
  readonly event?: string;
  /** The generator's seq this event carries (generated events only). */
  readonly seq?: number;
  /** Wall-clock time of a generated event (epoch ms), for the sequence anchor. */
  readonly timestamp?: number;
  /** The history entry this event carries (published events, and `events-lost`). */
  readonly entry?: string;
  /** The `data:` line's text, in chunks (JSON on one line). */
  readonly data: readonly Buffer[];
  /** When it was due, on the monotonic clock (`performance.now()`). */
  readonly dueAt: number;
  /**
   * Never dropped on its own (published events, `events-lost`): a reader that cannot take it in
   * time is asked to reconnect, and gets it again from the history.
   */
  readonly lossless: boolean;
}

/** The stream a source feeds: one pair's session. */
export interface SourceTarget {
  readonly userId: string;
  readonly profileId: string;
  /** Where the client stands (its `Last-Event-ID`); undefined for a new client session. */
  readonly resume: ResumePoint | undefined;
  emit(event: SourceEvent): void;
  /** The source cannot go on losslessly (its feed broke): the session ends and the client resumes. */
  fail(reason: string): void;
}

/** One source's feed of one stream. */
export interface SourceFeed {
  /** Where the client starts in this source: the seq or the history entry the stream's first id carries. */
  readonly startsAt: { readonly seq?: number; readonly entry?: string };
  /** Begins handing events to the target (after the stream's `hello`). */
  start(): void;
  /** Stops; no event is emitted afterwards. */
  close(): void;
}

/**
 * Where a stream's events come from — the way Mercure's `Transport` keeps its hub independent of
 * where updates live. The SSE writer, the lock and the session never know which source feeds
 * them; `STREAM_SOURCES` chooses the sources of a deployment.
 */
export interface StreamSource {
  readonly name: StreamSourceName;
  /**
   * Opens the feed of one stream: resolves once the client's starting position is known and no
   * event after it can be missed (a published source is subscribed and has read the history).
   * Rejects with an `AppError` (503) when its backing store is unavailable.
   */
  open(target: SourceTarget): Promise<SourceFeed>;
}

/** The sources a deployment's streams carry (`STREAM_SOURCES`), in order. */
export const STREAM_SOURCES = Symbol('STREAM_SOURCES');
