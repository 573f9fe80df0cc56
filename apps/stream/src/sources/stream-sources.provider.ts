import type { Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type StreamConfig } from '@app/config';
import { REDIS_CLIENT } from '@app/lock';
import { SequenceAnchors } from '../streams/sequence-anchors.js';
import { GeneratorSource } from './generator-source.js';
import { PairChannels } from './pair-channels.js';
import { PublishedSource } from './published-source.js';
import { STREAM_SOURCES, type StreamSource } from './stream-source.js';

/** The deployment's sources, as `STREAM_SOURCES` names them (a factory per name, as Mercure registers transports). */
export const streamSourcesProvider: Provider = {
  provide: STREAM_SOURCES,
  inject: [APP_CONFIG, REDIS_CLIENT, PairChannels, SequenceAnchors],
  useFactory: (config: StreamConfig, redis: Redis, channels: PairChannels, anchors: SequenceAnchors): StreamSource[] =>
    config.stream.sources.map((name) =>
      name === 'generator'
        ? new GeneratorSource(config.stream, config.podName, (userId, profileId) => anchors.read(userId, profileId))
        : new PublishedSource(redis, channels, config.history),
    ),
};
