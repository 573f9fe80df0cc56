import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type AppConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import {
  type ChannelMessage,
  closeRedis,
  connectRedis,
  createRedisClient,
  pairKeys,
  parseChannelMessage,
  REDIS_CLIENT,
  takenOverMessage,
} from '@app/lock';

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
export class PairChannels implements OnModuleDestroy {
  private readonly logger = new Logger(PairChannels.name);
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  /** Each channel's SUBSCRIBE, which every listener of it waits for. */
  private readonly subscribed = new Map<string, Promise<unknown>>();
  private readonly subscriber: Redis;
  private connected: Promise<void> | undefined;
  private wasReady = false;

  constructor(
    @InjectConfig() config: AppConfig,
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
      if (this.wasReady) {
        for (const set of this.listeners.values()) for (const listener of set) listener.reconnected?.();
      }
      this.wasReady = true;
    });
  }

  /** Subscribes `listener` to the pair's channel; resolves once Redis confirmed it. 503 when it cannot. */
  async subscribe(userId: string, profileId: string, listener: ChannelListener): Promise<() => void> {
    const channel = pairKeys(userId, profileId).channel;
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    const unsubscribe = () => this.unsubscribe(channel, listener);
    try {
      this.connected ??= connectRedis(this.subscriber).catch((error: unknown) => {
        this.connected = undefined;
        throw error;
      });
      await this.connected;
      let subscribing = this.subscribed.get(channel);
      if (!subscribing) {
        subscribing = this.subscriber.subscribe(channel);
        this.subscribed.set(channel, subscribing);
        subscribing.catch(() => this.subscribed.delete(channel));
      }
      await subscribing;
    } catch (error) {
      unsubscribe();
      throw AppError.dependencyUnavailable('redis', error);
    }
    return unsubscribe;
  }

  /**
   * Tells the pair's other streams that the stream with `fencingToken` took the pair over (a
   * reconnect of their own client session): the one with a lower token ends at once instead of
   * at its next renewal. Best effort: the renewal is the guarantee.
   */
  async announceTakeOver(userId: string, profileId: string, fencingToken: number): Promise<void> {
    await this.redis.publish(pairKeys(userId, profileId).channel, takenOverMessage(fencingToken)).catch((error) => {
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

  async onModuleDestroy(): Promise<void> {
    await closeRedis(this.subscriber);
  }
}
