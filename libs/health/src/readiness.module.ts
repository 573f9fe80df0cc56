import { Module } from '@nestjs/common';
import { Readiness } from './readiness.js';

/** The one `Readiness` switch of the app, for modules that drain on shutdown. */
@Module({ providers: [Readiness], exports: [Readiness] })
export class ReadinessModule {}
