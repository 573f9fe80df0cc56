import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { ReadinessModule } from '@app/health';
import { LockModule } from '@app/lock';
import { MetricsModule } from '@app/metrics';
import { PairChannels } from '../sources/pair-channels.js';
import { streamSourcesProvider } from '../sources/stream-sources.provider.js';
import { SequenceAnchors } from './sequence-anchors.js';
import { socketTuningProvider } from './socket-tuning.js';
import { StreamMetrics } from './stream-metrics.js';
import { StreamsController } from './streams.controller.js';
import { StreamsService } from './streams.service.js';
import { UserStreamCap } from './user-stream-cap.js';

@Module({
  imports: [AuthModule, BaseClientModule, LockModule, MetricsModule, ReadinessModule],
  controllers: [StreamsController],
  providers: [
    StreamsService,
    StreamMetrics,
    SequenceAnchors,
    socketTuningProvider,
    UserStreamCap,
    PairChannels,
    streamSourcesProvider,
  ],
  exports: [StreamsService],
})
export class StreamsModule {}
