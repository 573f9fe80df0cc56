import type { StreamConfig } from '@app/config';
import { EVENT_SLOT_MS, EventSchedule, MessageFramer, PayloadPool, SharedTimer } from '../sse/index.js';
import { nextSeq } from '../streams/event-id.js';
import { continueSequence, type SequenceAnchor } from '../streams/sequence-anchor.js';
import type { SourceFeed, SourceTarget, StreamSource } from './stream-source.js';

/** Reads where a pair's sequence stands (`SequenceAnchors`); undefined when unknown. */
export type AnchorReader = (userId: string, profileId: string) => Promise<SequenceAnchor | undefined>;

/** The session's clock: monotonic, so a wall-clock step never stops or bursts a stream. */
const monotonicNow = () => performance.now();

/**
 * The demo generator (the original's behaviour): `message` events `{host, seq, timestamp,
 * payload}` at `STREAM_EVENTS_PER_SECOND` × `STREAM_EVENT_BYTES` of random text. A resumed
 * stream continues the pair's sequence where the previous stream left it, on any pod
 * (`continueSequence`), so the client counts the events it missed as a gap.
 */
export class GeneratorSource implements StreamSource {
  readonly name = 'generator' as const;
  private readonly framer: MessageFramer;
  private readonly periodMs: number;
  /** One timer for every feed of this source (they share the period), not one per stream. */
  private readonly timer: SharedTimer<GeneratorFeed>;

  constructor(
    settings: Pick<StreamConfig['stream'], 'eventsPerSecond' | 'eventBytes'>,
    host: string,
    private readonly anchors: AnchorReader,
  ) {
    this.framer = new MessageFramer(host, new PayloadPool(settings.eventBytes));
    this.periodMs = 1000 / settings.eventsPerSecond;
    this.timer = new SharedTimer(
      Math.max(1, Math.round(this.periodMs)),
      (feed, now) => feed.tick(now),
      undefined,
      EVENT_SLOT_MS,
    );
  }

  async open(target: SourceTarget): Promise<SourceFeed> {
    const { resume } = target;
    const startSeq =
      resume === undefined
        ? 0
        : continueSequence(resume.seq, await this.anchors(target.userId, target.profileId), Date.now());
    return this.feed(target, startSeq);
  }

  /** The feed of a stream whose sequence continues after `startSeq`. */
  feed(target: SourceTarget, startSeq: number): SourceFeed {
    return new GeneratorFeed(target, this.framer, this.periodMs, this.timer, startSeq);
  }
}

class GeneratorFeed implements SourceFeed {
  private schedule: EventSchedule | undefined;
  private slot = -1;
  private seq: number;
  private closed = false;

  constructor(
    private readonly target: SourceTarget,
    private readonly framer: MessageFramer,
    private readonly periodMs: number,
    private readonly timer: SharedTimer<GeneratorFeed>,
    readonly startSeq: number,
  ) {
    this.seq = startSeq;
  }

  get startsAt(): { seq: number } {
    return { seq: this.startSeq };
  }

  start(): void {
    if (this.closed || this.schedule) return;
    this.schedule = new EventSchedule(this.periodMs, monotonicNow());
    this.slot = this.timer.add(this);
  }

  /** The shared timer fired (it drifts late under load): every event that is due is offered, each with its due time. */
  tick(now: number): void {
    const schedule = this.schedule!;
    const due = schedule.take(now);
    if (due === 0) return;
    const timestamp = Date.now();
    for (let i = 0; i < due && !this.closed; i++) {
      this.seq = nextSeq(this.seq);
      const data = this.framer.data(this.seq, timestamp);
      this.target.emit({ seq: this.seq, timestamp, data, dueAt: schedule.dueAt(i, due), lossless: false });
    }
  }

  close(): void {
    this.closed = true;
    if (this.slot >= 0) this.timer.delete(this, this.slot);
    this.slot = -1;
  }
}
