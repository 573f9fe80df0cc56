import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Authenticator } from '@app/auth';
import { BaseClient } from '@app/base-client';
import { type StreamConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { Readiness } from '@app/health';
import { ClientRateLimiter, clientAddress, routeOf } from '@app/http';
import { isUuid } from '@app/ids';
import { type HeldLock, PairLock } from '@app/lock';
import { PairChannels } from '../sources/pair-channels.js';
import { type SourceFeed, STREAM_SOURCES, type StreamSource } from '../sources/stream-source.js';
import { TimedRounds } from '../sse/index.js';
import { isSession, newSession, parseLastEventId, type ResumePoint } from './event-id.js';
import { acceptsJsonRefusals, streamRefusal } from './refusal.js';
import { SEQUENCE_ANCHOR_REFRESH_MS, SequenceAnchors } from './sequence-anchors.js';
import { SocketTuning } from './socket-tuning.js';
import { rejectReasonOf, StreamMetrics } from './stream-metrics.js';
import { openStream } from './stream-output.js';
import { StreamSession, StreamTimers } from './stream-session.js';
import { UserStreamCap, type UserStreamPlace } from './user-stream-cap.js';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // Tells nginx not to buffer this response, so backpressure reaches this pod.
  'X-Accel-Buffering': 'no',
};

/** How long shutdown waits for every lock release before giving up on the stragglers. */
const SHUTDOWN_RELEASE_MS = 5000;

/**
 * Admission, binding check, locking and the registry of live sessions. The registry is the
 * single source of `stream_active_connections`.
 */
@Injectable()
export class StreamsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamsService.name);
  private readonly sessions = new Set<StreamSession>();
  /**
   * Live streams save where their sequences stand, so a pod that dies leaves them resumable, and
   * renew their places among their users' streams with their locks: each once a period, a slot
   * of them per pipeline.
   */
  private readonly anchorRefresh: TimedRounds<StreamSession>;
  private readonly placeRefresh: TimedRounds<UserStreamPlace>;
  /** Requests admitted but not yet streaming (binding check and lock in flight). */
  private pending = 0;
  /** The watchdog and heartbeat timers every session shares. */
  private readonly timers: StreamTimers;

  /** Stream opens per client and minute (`RATE_LIMIT_STREAM_OPENS_PER_MINUTE`). */
  private readonly opens: ClientRateLimiter;

  constructor(
    @InjectConfig() private readonly config: StreamConfig,
    private readonly base: BaseClient,
    private readonly auth: Authenticator,
    private readonly lock: PairLock,
    private readonly readiness: Readiness,
    private readonly metrics: StreamMetrics,
    private readonly anchors: SequenceAnchors,
    private readonly socketTuning: SocketTuning,
    private readonly cap: UserStreamCap,
    private readonly channels: PairChannels,
    @Inject(STREAM_SOURCES) private readonly sources: readonly StreamSource[],
  ) {
    this.opens = new ClientRateLimiter('stream opens', config.rateLimits.streamOpensPerMinute);
    this.timers = new StreamTimers(config.stream);
    this.anchorRefresh = new TimedRounds(SEQUENCE_ANCHOR_REFRESH_MS, (sessions) => void this.saveAnchors(sessions));
    this.placeRefresh = new TimedRounds(config.lock.renewMs, (places) => void this.cap.refresh(places));
    metrics.bindGauges(
      () => this.sessions.size,
      () => this.lock.heldCount,
    );
    metrics.bindLockServers(() => this.lock.votingServers, this.lock.quorum);
    metrics.bindLag(
      () => Math.max(0, ...[...this.sessions].map((session) => session.lagMs())),
      () => [...this.sessions].filter((session) => session.writer.isBehind).length,
    );
  }

  get activeConnections(): number {
    return this.sessions.size;
  }

  /**
   * Opens the stream, or answers the refusal: as JSON with its status for a client that takes
   * JSON refusals (ours, curl), and as a 200 `text/event-stream` that says `refused` with a
   * `retry:` for a standard EventSource when retrying can fix it (see docs/standard-clients.md).
   */
  async serve(userId: string, profileId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      // Every open counts, refused ones too: floods of anonymous or bad opens are what it bounds.
      try {
        this.opens.take(clientAddress(request));
      } catch (error) {
        throw this.reject(error);
      }
      await this.open(userId, profileId, request, response);
    } catch (error) {
      const refusal = acceptsJsonRefusals(request.headers.accept) ? undefined : streamRefusal(error);
      if (!refusal || response.headersSent) throw error;
      response.writeHead(200, SSE_HEADERS);
      response.end(request.method === 'HEAD' ? undefined : refusal.body);
    }
  }

  /**
   * Every refusal happens here, before a byte of the stream is written, as an `AppError`. In
   * this order: malformed ids, the user's token (nothing about the pair is looked up for a client
   * that may not see it), a malformed Last-Event-ID, this pod's state, the binding, the user's
   * cap, the lock. A HEAD request stops before the cap: it never holds anything.
   */
  async open(userId: string, profileId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!isUuid(userId) || !isUuid(profileId)) {
      throw this.reject(AppError.of('INVALID_ID', { value: isUuid(userId) ? profileId : userId }));
    }
    const user = userId.toLowerCase();
    const profile = profileId.toLowerCase();
    await this.authorize(request, user);
    let resume: ResumePoint | undefined;
    try {
      resume = parseLastEventId(request.headers['last-event-id']);
    } catch (error) {
      throw this.reject(error);
    }
    if (this.readiness.draining) {
      throw this.reject(AppError.of('DRAINING'));
    }
    if (this.sessions.size + this.pending >= this.config.stream.maxConnections) {
      throw this.reject(AppError.of('POD_FULL', { maxConnections: this.config.stream.maxConnections }));
    }
    // A reconnect of the same client session (its id names it) may take the pair over from its dead predecessor.
    const session = isSession(resume?.session) ? resume.session : newSession();
    this.pending++;
    let held: HeldLock;
    let place: UserStreamPlace;
    try {
      await this.checkBinding(user, profile);
      if (request.method === 'HEAD') {
        response.writeHead(200, SSE_HEADERS);
        response.end();
        return;
      }
      try {
        place = await this.cap.reserve(user, profile, randomBytes(8).toString('hex'));
      } catch (error) {
        throw this.reject(error);
      }
      const started = performance.now();
      try {
        held = await this.lock.acquire(user, profile, { pod: this.config.podName, session });
      } catch (error) {
        void this.cap.release(place);
        throw this.reject(error);
      }
      this.metrics.lockAcquireSeconds.observe((performance.now() - started) / 1000);
    } finally {
      this.pending--;
    }
    await this.stream({ user, profile, session, resume, held, place, request, response });
  }

  /** The pair is ours: subscribe its channel, open its sources, then stream. Anything failing gives everything back. */
  private async stream(o: {
    user: string;
    profile: string;
    session: string;
    resume: ResumePoint | undefined;
    held: HeldLock;
    place: UserStreamPlace;
    request: IncomingMessage;
    response: ServerResponse;
  }): Promise<void> {
    const { user, profile, held, place, request, response } = o;
    let unsubscribe = () => undefined as void;
    const requestLog = { reqId: (request as { id?: unknown }).id, method: request.method, route: routeOf(request) };
    const openedAt = performance.now();
    const stream: StreamSession = new StreamSession({
      userId: user,
      profileId: profile,
      pod: this.config.podName,
      lock: held,
      settings: this.config.stream,
      lockTtlMs: this.config.lock.ttlMs,
      metrics: this.metrics,
      socketTuning: this.socketTuning,
      timers: this.timers,
      session: o.session,
      resume: o.resume,
      onClosed: (closed, reason) => {
        this.sessions.delete(closed);
        this.anchorRefresh.delete(closed);
        this.placeRefresh.delete(place);
        unsubscribe();
        void this.cap.release(place);
        // A stream its own client replaced must not set the pair's sequence back.
        if (reason !== 'taken-over') void this.saveAnchors([closed]);
        // A stream that took its socket ends outside the request logger's sight: its line, in that shape.
        if (closed.detached) {
          const durationMs = Math.round(performance.now() - openedAt);
          this.logger.log({
            msg: `${requestLog.method} ${requestLog.route} 200`,
            ...requestLog,
            status: 200,
            durationMs,
            reason,
          });
        }
      },
    });
    const feeds: SourceFeed[] = [];
    const giveBack = async () => {
      for (const feed of feeds) feed.close();
      unsubscribe();
      await Promise.all([held.release(), this.cap.release(place)]);
    };
    try {
      // Best effort, like every use of REDIS_URL on a stream's way: the lock's renewal is the guarantee.
      ({ unsubscribe } = await this.channels.subscribe(user, profile, {
        message: (message) => {
          if (message.kind === 'taken-over' && message.fencingToken > held.fencingToken)
            void stream.close('taken-over');
        },
      }));
      // The session's previous connection (dead, or it would not have reconnected) stops at once.
      if (o.resume?.session === o.session) await this.channels.announceTakeOver(user, profile, held.fencingToken);
      for (const source of this.sources) feeds.push(await source.open(stream));
    } catch (error) {
      await giveBack();
      throw this.reject(error instanceof AppError ? error : AppError.dependencyUnavailable('redis', error));
    }
    // The client may have gone while we checked and locked: give the pair back at once.
    if (request.destroyed || response.destroyed || response.socket?.destroyed !== false) {
      await giveBack();
      return;
    }
    if (this.readiness.draining) {
      await giveBack();
      throw this.reject(AppError.of('DRAINING'));
    }
    this.socketTuning.apply(response.socket);
    // From here the stream holds its socket, not the request and response (see `openStream`).
    const opened = openStream(request, response, SSE_HEADERS);
    this.sessions.add(stream);
    this.anchorRefresh.add(stream);
    this.placeRefresh.add(place);
    stream.start(opened, feeds);
    void this.saveAnchors([stream]);
  }

  /** SIGTERM: not ready, no new streams, every client told to reconnect elsewhere, every lock released. */
  async beforeApplicationShutdown(): Promise<void> {
    this.anchorRefresh.stop();
    this.placeRefresh.stop();
    this.readiness.markDraining();
    const live = [...this.sessions];
    if (live.length > 0) this.logger.log(`draining ${live.length} streams`);
    const released = Promise.all(live.map((session) => session.close('shutdown')));
    await Promise.race([released, new Promise((done) => setTimeout(done, SHUTDOWN_RELEASE_MS).unref())]);
  }

  /**
   * 401 without a valid token, 403 for another user's. The token is checked only here, at the
   * start: one that expires while the stream runs does not end it (the lock is the session).
   */
  private async authorize(request: IncomingMessage, userId: string): Promise<void> {
    try {
      this.auth.requireUser(await this.auth.authenticate(request), userId);
    } catch (error) {
      throw this.reject(error);
    }
  }

  private async checkBinding(userId: string, profileId: string): Promise<void> {
    try {
      await this.base.assertBound(userId, profileId);
    } catch (error) {
      if (!(error instanceof AppError)) throw this.reject(AppError.dependencyUnavailable('base', error));
      switch (error.code) {
        case 'BINDING_NOT_FOUND':
          throw this.reject(AppError.of('NOT_BOUND', { userId, profileId }));
        case 'USER_NOT_FOUND':
        case 'PROFILE_NOT_FOUND':
        case 'DEPENDENCY_UNAVAILABLE':
          throw this.reject(error);
        default:
          throw this.reject(AppError.dependencyUnavailable('base', error));
      }
    }
  }

  private saveAnchors(sessions: readonly StreamSession[]): Promise<void> {
    return this.anchors.save(
      sessions.map((session) => ({ userId: session.userId, profileId: session.profileId, anchor: session.anchor() })),
    );
  }

  /** Counts a refusal under its reason (one mapping: `rejectReasonOf`) and returns it to throw. */
  private reject(error: unknown): unknown {
    this.metrics.rejected.inc({ reason: rejectReasonOf(error) });
    return error;
  }
}
