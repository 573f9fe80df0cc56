import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { MetricsService } from './metrics.service.js';

/** Records `http_request_duration_seconds{method,route,status_code}` for every response. */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  private readonly duration;

  constructor(
    metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.duration = metrics.histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests until the response is complete, by route pattern',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.addHook) return;
    fastify.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: ids must not become label values.
      const route = request.routeOptions.url ?? 'unmatched';
      this.duration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
}
