import { type BeforeApplicationShutdown, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Authenticator } from '@app/auth';
import { BaseClient } from '@app/base-client';
import { type AppConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { Readiness } from '@app/health';
import { isUuid } from '@app/http';
import { PairLock } from '@app/lock';
import { MessageFramer, PayloadPool } from '../sse/index.js';
import { continueSequence, parseLastEventId } from './sequence-anchor.js';
import { SEQUENCE_ANCHOR_REFRESH_MS, SequenceAnchors } from './sequence-anchors.js';
import { SocketTuning } from './socket-tuning.js';
import { type RejectReason, StreamMetrics } from './stream-metrics.js';
import { StreamSession } from './stream-session.js';

const SSE_HEADERS = {
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
export class StreamsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamsService.name);
  private readonly sessions = new Set<StreamSession>();
  private readonly framer: MessageFramer;
  /** Requests admitted but not yet streaming (binding check and lock in flight). */
  private pending = 0;
  private anchorRefresh: NodeJS.Timeout | undefined;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly base: BaseClient,
    private readonly auth: Authenticator,
    private readonly lock: PairLock,
    private readonly readiness: Readiness,
    private readonly metrics: StreamMetrics,
    private readonly anchors: SequenceAnchors,
    private readonly socketTuning: SocketTuning,
  ) {
    this.framer = new MessageFramer(config.podName, new PayloadPool(config.stream.eventBytes));
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

  /** Live streams save where their sequences stand, so a pod that dies leaves them resumable. */
  onModuleInit(): void {
    this.anchorRefresh = setInterval(() => void this.saveAnchors([...this.sessions]), SEQUENCE_ANCHOR_REFRESH_MS);
    this.anchorRefresh.unref();
  }

  get activeConnections(): number {
    return this.sessions.size;
  }

  /**
   * Every refusal happens here, before a byte of the stream is written, as an `AppError` the
   * exception filter turns into a JSON answer with the right status. In this order: malformed
   * ids, the user's token (nothing about the pair is looked up for a client that may not see it),
   * a malformed Last-Event-ID, this pod's state, the binding, the lock.
   */
  async open(userId: string, profileId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!isUuid(userId) || !isUuid(profileId)) {
      throw this.reject('bad_request', AppError.of('INVALID_ID', { value: isUuid(userId) ? profileId : userId }));
    }
    const user = userId.toLowerCase();
    const profile = profileId.toLowerCase();
    await this.authorize(request, user);
    let lastEventId: number | undefined;
    try {
      lastEventId = parseLastEventId(request.headers['last-event-id']);
    } catch (error) {
      throw this.reject('bad_request', error);
    }
    if (this.readiness.draining) {
      throw this.reject('draining', AppError.of('DRAINING'));
    }
    if (this.sessions.size + this.pending >= this.config.stream.maxConnections) {
      throw this.reject('full', AppError.of('POD_FULL', { maxConnections: this.config.stream.maxConnections }));
    }
    this.pending++;
    let held;
    try {
      await this.checkBinding(user, profile);
      const started = performance.now();
      try {
        held = await this.lock.acquire(user, profile, { pod: this.config.podName });
      } catch (error) {
        throw this.reject(
          error instanceof AppError && error.code === 'PROFILE_IN_USE' ? 'in_use' : 'unavailable',
          error,
        );
      }
      this.metrics.lockAcquireSeconds.observe((performance.now() - started) / 1000);
    } finally {
      this.pending--;
    }
    // A resumed stream continues its sequence where the previous one (here or on another pod) left it.
    const startSeq =
      lastEventId === undefined ? 0 : continueSequence(lastEventId, await this.anchors.read(user, profile), Date.now());
    // The client may have gone while we checked and locked: give the pair back at once.
    if (request.destroyed || response.destroyed || response.socket?.destroyed !== false) {
      await held.release();
      return;
    }
    if (this.readiness.draining) {
      await held.release();
      throw this.reject('draining', AppError.of('DRAINING'));
    }
    this.socketTuning.apply(response.socket);
    response.writeHead(200, SSE_HEADERS);
    response.flushHeaders();
    const session = new StreamSession({
      userId: user,
      profileId: profile,
      pod: this.config.podName,
      response,
      lock: held,
      framer: this.framer,
      settings: this.config.stream,
      lockTtlMs: this.config.lock.ttlMs,
      metrics: this.metrics,
      socketTuning: this.socketTuning,
      startSeq,
      onClosed: (closed) => {
        this.sessions.delete(closed);
        void this.saveAnchors([closed]);
      },
    });
    this.sessions.add(session);
    session.start();
    void this.saveAnchors([session]);
  }

  /** SIGTERM: not ready, no new streams, every client told to reconnect elsewhere, every lock released. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.anchorRefresh);
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
      const code = error instanceof AppError ? error.code : undefined;
      throw this.reject(
        code === 'UNAUTHENTICATED' ? 'unauthenticated' : code === 'FORBIDDEN' ? 'forbidden' : 'unavailable',
        error,
      );
    }
  }

  private async checkBinding(userId: string, profileId: string): Promise<void> {
    try {
      await this.base.assertBound(userId, profileId);
    } catch (error) {
      if (!(error instanceof AppError)) throw this.reject('unavailable', AppError.dependencyUnavailable('base', error));
      switch (error.code) {
        case 'BINDING_NOT_FOUND':
          throw this.reject('not_bound', AppError.of('NOT_BOUND', { userId, profileId }));
        case 'USER_NOT_FOUND':
        case 'PROFILE_NOT_FOUND':
          throw this.reject('not_found', error);
        case 'DEPENDENCY_UNAVAILABLE':
          throw this.reject('unavailable', error);
        default:
          throw this.reject('unavailable', AppError.dependencyUnavailable('base', error));
      }
    }
  }

  private saveAnchors(sessions: readonly StreamSession[]): Promise<void> {
    return this.anchors.save(
      sessions.map((session) => ({ userId: session.userId, profileId: session.profileId, anchor: session.anchor() })),
    );
  }

  private reject(reason: RejectReason, error: unknown): unknown {
    this.metrics.rejected.inc({ reason });
    return error;
  }
}
