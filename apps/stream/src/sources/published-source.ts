import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  type ChannelMessage,
  compareEntryIds,
  type HistoryBounds,
  lastPairEntry,
  NO_ENTRY,
  type PublishedEvent,
  readPairHistory,
} from '@app/events';
import type { ChannelListener, PairChannels } from './pair-channels.js';
import type { SourceFeed, SourceTarget, StreamSource } from './stream-source.js';

/**
 * Events published with `POST /main/publish/:userId/:profileId`: each pair's history is a Redis
 * stream on `REDIS_URL` (bounded by `STREAM_HISTORY_MAX_EVENTS` and `STREAM_HISTORY_MAX_AGE_MS`),
 * and every new event is announced on the pair's channel, which the pod holding the pair's
 * stream listens to. A stream subscribes first, then reads the history after the client's last
 * entry, so no event falls between the two; events are delivered in history order, each once.
 */
export class PublishedSource implements StreamSource {
  readonly name = 'published' as const;
  private readonly logger = new Logger(PublishedSource.name);

  constructor(
    private readonly redis: Redis,
    private readonly channels: PairChannels,
    private readonly bounds: HistoryBounds,
  ) {}

  /**
   * Never refuses a stream: when `REDIS_URL` cannot answer (it is not on a stream's critical
   * path), the feed starts detached — at the client's entry, or for a new client at this pod's
   * clock as an entry id (`<now>-0`: what is published from then on) — and catches up from the
   * history once its channel holds again.
   */
  async open(target: SourceTarget): Promise<SourceFeed> {
    const feed = new PublishedFeed(target, (after) => this.read(target, after), this.logger);
    const { unsubscribe, live } = await this.channels.subscribe(target.userId, target.profileId, feed);
    feed.unsubscribe = unsubscribe;
    const { resume } = target;
    if (!live) {
      feed.detach(resume?.entry ?? `${Date.now()}-0`);
      return feed;
    }
    try {
      if (resume === undefined) {
        feed.begin(await lastPairEntry(this.redis, target.userId, target.profileId));
      } else if (resume.entry === undefined) {
        // A bare seq (an id from before ids carried the entry): where it stood is unknown.
        feed.begin(await lastPairEntry(this.redis, target.userId, target.profileId), { lostAfter: NO_ENTRY });
      } else {
        const history = await this.read(target, resume.entry);
        feed.begin(
          resume.entry,
          history.lost ? { lostAfter: resume.entry, resumeAt: history.resumeAt } : {},
          history.events,
        );
      }
    } catch (error) {
      this.logger.warn(`history of ${target.userId}/${target.profileId} not read now: ${(error as Error).message}`);
      feed.detach(resume?.entry ?? `${Date.now()}-0`);
      feed.reconnected();
    }
    return feed;
  }

  private async read(target: SourceTarget, after: string) {
    return readPairHistory(this.redis, target.userId, target.profileId, after, this.bounds.maxEvents);
  }
}

interface LostNotice {
  /** The client's entry after which events may be missing. */
  readonly lostAfter?: string;
  /** The entry the client resumes at after the notice. */
  readonly resumeAt?: string;
}

type HistoryReader = (after: string) => ReturnType<typeof readPairHistory>;

/** After the channel came back, the history is read again this often, this many times, before the gap is called lost. */
const CATCH_UP_RETRY_MS = 250;
const CATCH_UP_ATTEMPTS = 20;

class PublishedFeed implements SourceFeed, ChannelListener {
  unsubscribe: () => void = () => undefined;
  private position = NO_ENTRY;
  private startEntry = NO_ENTRY;
  private lost: LostNotice = {};
  private backlog: PublishedEvent[] = [];
  private live = false;
  private closed = false;
  private started = false;
  /** Opened while Redis could not be asked: nothing is delivered before a catch-up. */
  private detached = false;
  private catchingUp = false;

  constructor(
    private readonly target: SourceTarget,
    private readonly read: HistoryReader,
    private readonly logger: Logger,
  ) {}

  get startsAt(): { entry: string } {
    return { entry: this.startEntry };
  }

  /** Redis could not be asked: the feed starts at `entry` and catches up once its channel holds. */
  detach(entry: string): void {
    this.startEntry = this.position = entry;
    this.detached = true;
  }

  /** Where the client stands, what it missed (delivered at start), and whether events were lost. */
  begin(entry: string, lost: LostNotice = {}, history: readonly PublishedEvent[] = []): void {
    this.startEntry = this.position = entry;
    this.lost = lost;
    // Channel messages that arrived while the history was read come after it (or repeat it).
    this.backlog = [...history, ...this.backlog];
  }

  start(): void {
    if (this.closed) return;
    this.started = true;
    // Opened without Redis: live once the catch-up has run (when the channel holds).
    if (this.detached || this.catchingUp) return;
    if (this.lost.lostAfter !== undefined) {
      const resumeAt = this.lost.resumeAt ?? this.position;
      this.position = resumeAt;
      const data = JSON.stringify({ after: this.lost.lostAfter, resumeAt, reason: 'outside-history' });
      this.target.emit({
        event: 'events-lost',
        entry: resumeAt,
        data: [Buffer.from(data, 'utf8')],
        dueAt: performance.now(),
        lossless: true,
      });
      this.lost = {};
    }
    this.live = true;
    const backlog = this.backlog;
    this.backlog = [];
    for (const event of backlog) this.deliver(event);
  }

  message(message: ChannelMessage): void {
    if (message.kind !== 'event' || this.closed) return;
    if (this.live) this.deliver(message.event);
    else this.backlog.push(message.event);
  }

  /**
   * The channel was down for a while: what was published meanwhile comes from the history, in
   * order, before what the channel brings from now on; what the history no longer has is an
   * `events-lost`, as on a resume. The stream goes on either way.
   */
  reconnected(): void {
    if (this.closed || this.catchingUp || (!this.live && !this.detached)) return;
    this.live = false;
    this.detached = false;
    this.catchingUp = true;
    void this.catchUp(0);
  }

  private async catchUp(attempt: number): Promise<void> {
    const after = this.position;
    try {
      const history = await this.read(after);
      if (history.lost) this.lost = { lostAfter: after, resumeAt: history.resumeAt };
      this.backlog = [...history.events, ...this.backlog];
    } catch (error) {
      if (this.closed) return;
      if (attempt < CATCH_UP_ATTEMPTS) {
        setTimeout(() => void this.catchUp(attempt + 1), CATCH_UP_RETRY_MS).unref();
        return;
      }
      this.logger.warn(`cannot catch up after the channel came back: ${(error as Error).message}`);
      this.lost = { lostAfter: after };
    }
    this.catchingUp = false;
    if (this.started) this.start();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
  }

  private deliver(event: PublishedEvent): void {
    if (this.closed || (compareEntryIds(event.id, this.position) ?? 0) <= 0) return;
    this.position = event.id;
    this.target.emit({
      event: event.event === '' ? undefined : event.event,
      entry: event.id,
      data: [Buffer.from(event.data, 'utf8')],
      dueAt: performance.now(),
      lossless: true,
    });
  }
}
