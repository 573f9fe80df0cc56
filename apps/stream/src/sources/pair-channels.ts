import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type StreamConfig, InjectConfig } from '@app/config';
import { type ChannelMessage, pairEventKeys, parseChannelMessage, takenOverMessage } from '@app/events';
import { closeRedis, connectRedis, createRedisClient, REDIS_CLIENT } from '@app/lock';

/** How often a SUBSCRIBE that failed is tried again. */
const RETRY_MS = 1000;

/** Hears one pair's channel. */
export interface ChannelListener {
  message(message: ChannelMessage): void;
  /** The subscriber connection came back after a break: messages sent meanwhile were missed. */
  reconnected?(): void;
}

/**
 * Every pair channel this pod listens to, on ONE subscriber connection to `REDIS_URL` (ioredis
 * subscribes again by itself after a reconnect). A channel is subscribed while at least one
 * listener wants it.
 */
@Injectable()
export class PairChannels implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PairChannels.name);
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  /** Each channel's SUBSCRIBE, which every listener of it waits for. */
  private readonly subscribed = new Map<string, Promise<unknown>>();
  private readonly subscriber: Redis;
  private wasReady = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    @InjectConfig() config: StreamConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {
    this.subscriber = createRedisClient(config.redis.url, {
      commandTimeoutMs: config.redis.commandTimeoutMs,
      name: `kubescaler:${config.app}:${config.podName}:channels`,
      logger: this.logger,
    });
    this.subscriber.on('message', (channel: string, text: string) => {
      const message = parseChannelMessage(text);
      if (!message) return;
      for (const listener of this.listeners.get(channel) ?? []) listener.message(message);
    });
    this.subscriber.on('ready', () => {
      // ioredis subscribes again to what it had; what it did not have is subscribed by the retry.
      if (this.wasReady) {
        for (const set of this.listeners.values()) for (const listener of set) listener.reconnected?.();
      }
      this.wasReady = true;
      this.retrySoon(0);
    });
  }

  /**
   * Subscribes `listener` to the pair's channel. Never refuses a stream: `live` is false when
   * Redis could not confirm the subscription, which is then retried (every second, and whenever
   * the connection becomes ready) and reported to the listener as `reconnected` once it holds —
   * `REDIS_URL` is not on the critical path of a stream.
   */
  async subscribe(
    userId: string,
    profileId: string,
    listener: ChannelListener,
  ): Promise<{ unsubscribe: () => void; live: boolean }> {
    const channel = pairEventKeys(userId, profileId).channel;
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    const unsubscribe = () => this.unsubscribe(channel, listener);
    try {
      await this.confirm(channel);
      return { unsubscribe, live: true };
    } catch (error) {
      this.logger.warn(`cannot subscribe ${channel} now, retrying: ${(error as Error).message}`);
      this.retrySoon();
      return { unsubscribe, live: false };
    }
  }

  /** Resolves once Redis confirmed the channel's SUBSCRIBE (one per channel, shared by its listeners). */
  private async confirm(channel: string): Promise<void> {
    if (this.subscriber.status !== 'ready') throw new Error(`not connected (${this.subscriber.status})`);
    let subscribing = this.subscribed.get(channel);
    if (!subscribing) {
      subscribing = this.subscriber.subscribe(channel);
      this.subscribed.set(channel, subscribing);
      subscribing.catch(() => this.subscribed.delete(channel));
    }
    await subscribing;
  }

  /** Subscribes the channels whose SUBSCRIBE failed; their listeners hear `reconnected` once they hold. */
  private retrySoon(delayMs = RETRY_MS): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      for (const [channel, listeners] of this.listeners) {
        if (this.subscribed.has(channel)) continue;
        this.confirm(channel).then(
          () => {
            for (const listener of listeners) listener.reconnected?.();
          },
          () => this.retrySoon(),
        );
      }
    }, delayMs);
    this.retry.unref();
  }

  /**
   * Tells the pair's other streams that the stream with `fencingToken` took the pair over (a
   * reconnect of their own client session): the one with a lower token ends at once instead of
   * at its next renewal. Best effort: the renewal is the guarantee.
   */
  async announceTakeOver(userId: string, profileId: string, fencingToken: number): Promise<void> {
    await this.redis
      .publish(pairEventKeys(userId, profileId).channel, takenOverMessage(fencingToken))
      .catch((error) => {
        this.logger.warn(`cannot announce the take-over of ${userId}/${profileId}: ${(error as Error).message}`);
      });
  }

  private unsubscribe(channel: string, listener: ChannelListener): void {
    const set = this.listeners.get(channel);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(channel);
    this.subscribed.delete(channel);
    if (this.subscriber.status === 'ready') {
      this.subscriber.unsubscribe(channel).catch((error: unknown) => {
        this.logger.debug(`unsubscribe ${channel}: ${(error as Error).message}`);
      });
    }
  }

  /** Waits for the subscriber connection at boot, without failing it: streams subscribe late if they must. */
  async onModuleInit(): Promise<void> {
    await connectRedis(this.subscriber).catch((error: unknown) => {
      this.logger.warn(`pair channels not connected yet: ${(error as Error).message}`);
    });
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.retry);
    await closeRedis(this.subscriber);
  }
}
