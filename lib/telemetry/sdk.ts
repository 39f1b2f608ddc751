// The telemetry bundle (dist/telemetry.js): the OpenTelemetry SDK and its exporters, loaded by ./telemetry.ts only when
// an exporter is configured, so an app without one never parses any of it.
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter as OtlpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Attributes, SpanHandle, SpanKindName, Telemetry, Tracing } from './telemetry';

const KINDS: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

const SCOPE = 'intune-reset-passcode';

/** Builds the tracer and meter providers and their exporters from the standard settings. */
export function createTelemetry(env: NodeJS.ProcessEnv): Telemetry {
  const resource = resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME?.trim() || env.WEBSITE_SITE_NAME?.trim() || SCOPE,
    ...(env.WEBSITE_INSTANCE_ID && { 'service.instance.id': env.WEBSITE_INSTANCE_ID }),
  });
  const exporters = exportersFor(env);
  const delay = positive(env.OTEL_BSP_SCHEDULE_DELAY, 5000);
  const spanProcessors: SpanProcessor[] = exporters.spans.map(
    (exporter) => new BatchSpanProcessor(exporter, { scheduledDelayMillis: delay }),
  );
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const interval = positive(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000);
  const meterProvider = new MeterProvider({
    resource,
    readers: exporters.metrics.map(
      (exporter) => new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval }),
    ),
  });
  return {
    tracing: tracingWith(tracerProvider.getTracer(SCOPE)),
    meter: meterProvider.getMeter(SCOPE),
    flush: async () => {
      await Promise.allSettled([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
  };
}

/**
 * OTLP when an endpoint is named (OTEL_EXPORTER_OTLP_PROTOCOL `http/protobuf`, the specification's default, or
 * `http/json`; the exporters read the endpoint and headers variables themselves), Application Insights when its
 * connection string is set; both when both are.
 */
function exportersFor(env: NodeJS.ProcessEnv): { spans: SpanExporter[]; metrics: PushMetricExporter[] } {
  const spans: SpanExporter[] = [];
  const metrics: PushMetricExporter[] = [];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) {
    const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf';
    // Delta: each export holds what happened since the last, which sums across instances and restarts.
    const temporalityPreference = AggregationTemporality.DELTA;
    if (protocol === 'http/json') {
      spans.push(new OtlpJsonTraceExporter());
      metrics.push(new OtlpJsonMetricExporter({ temporalityPreference }));
    } else if (protocol === 'http/protobuf') {
      spans.push(new OtlpProtoTraceExporter());
      metrics.push(new OtlpProtoMetricExporter({ temporalityPreference }));
    } else {
      throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL ${protocol} is not supported: use http/protobuf or http/json`);
    }
  }
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (connectionString) {
    spans.push(new AzureMonitorTraceExporter({ connectionString }));
    metrics.push(new AzureMonitorMetricExporter({ connectionString }));
  }
  return { spans, metrics };
}

function tracingWith(tracer: ReturnType<BasicTracerProvider['getTracer']>): Tracing {
  return {
    span: (name, options, work) => {
      const parent = options.parent ? contextOf(options.parent) : context.active();
      const links: Link[] = (options.links ?? [])
        .map((link) => trace.getSpanContext(contextOf(link)))
        .filter((linked): linked is SpanContext => linked !== undefined)
        .map((linked) => ({ context: linked }));
      return tracer.startActiveSpan(
        name,
        { kind: KINDS[options.kind], attributes: defined(options.attributes), links },
        parent,
        async (span) => {
          try {
            return await work(handleOf(span));
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.setAttribute('error.type', error instanceof Error ? error.name : typeof error);
            throw error;
          } finally {
            span.end();
          }
        },
      );
    },
    activeTraceparent: () => {
      const active = trace.getActiveSpan();
      return active ? traceparentOf(active.spanContext()) : undefined;
    },
  };
}

function handleOf(span: Span): SpanHandle {
  return {
    setAttributes: (attributes) => span.setAttributes(defined(attributes)),
    fail: (errorType) => {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute('error.type', errorType);
    },
    traceparent: () => traceparentOf(span.spanContext()),
  };
}

const contextOf = (traceparent: string): Context => propagation.extract(ROOT_CONTEXT, { traceparent });

const traceparentOf = (span: SpanContext) =>
  `00-${span.traceId}-${span.spanId}-${span.traceFlags.toString(16).padStart(2, '0')}`;

function defined(attributes: Attributes | undefined): Record<string, string | number | boolean> {
  const result: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes ?? {})) if (value !== undefined) result[key] = value;
  return result;
}

function positive(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
