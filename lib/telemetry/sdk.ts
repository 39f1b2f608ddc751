// The telemetry bundle (dist/telemetry.js): the OpenTelemetry SDK, loaded by ./telemetry.ts only when an exporter is
// configured, so an app without one never parses any of it. The exporters are a bundle of their own (./exporters.ts).
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
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
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
  // Built on the first metric (the first request), not at start-up: it is a third of the setup's cost (issue 22).
  let meterProvider: MeterProvider | undefined;
  const meterProviderNow = () => {
    meterProvider ??= new MeterProvider({
      resource,
      readers: exporters.metrics.map(
        (exporter) => new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval }),
      ),
    });
    return meterProvider;
  };
  return {
    tracing: tracingWith(tracerProvider.getTracer(SCOPE)),
    get meter() {
      return meterProviderNow().getMeter(SCOPE);
    },
    flush: async () => {
      await Promise.allSettled([tracerProvider.forceFlush(), meterProvider?.forceFlush()]);
    },
  };
}

type ExporterClasses = typeof import('./exporters');
let exporterClasses: Promise<ExporterClasses> | undefined;
const loadExporters = () => {
  exporterClasses ??= import('./exporters');
  return exporterClasses;
};

/** A span exporter built on its first export (the exporters' bundle is loaded then, not at start-up). */
class LazySpanExporter implements SpanExporter {
  private inner: Promise<SpanExporter> | undefined;
  constructor(private readonly make: (classes: ExporterClasses) => SpanExporter) {}
  private get() {
    this.inner ??= loadExporters().then(this.make);
    return this.inner;
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.get().then(
      (exporter) => exporter.export(spans, done),
      (error: Error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }
  async shutdown() {
    if (this.inner) await (await this.inner).shutdown();
  }
  async forceFlush() {
    if (this.inner) await (await this.inner).forceFlush?.();
  }
}

/** A metric exporter built on its first export; its temporality is known before (the reader asks at once). */
class LazyMetricExporter implements PushMetricExporter {
  private inner: Promise<PushMetricExporter> | undefined;
  constructor(
    private readonly make: (classes: ExporterClasses) => PushMetricExporter,
    readonly selectAggregationTemporality: (type: InstrumentType) => AggregationTemporality,
  ) {}
  private get() {
    this.inner ??= loadExporters().then(this.make);
    return this.inner;
  }
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.get().then(
      (exporter) => exporter.export(metrics, done),
      (error: Error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }
  async shutdown() {
    if (this.inner) await (await this.inner).shutdown();
  }
  async forceFlush() {
    if (this.inner) await (await this.inner).forceFlush();
  }
}

// OTLP: delta, so each export holds what happened since the last and sums across instances and restarts.
const delta = () => AggregationTemporality.DELTA;
// Azure Monitor's own choice (its AzureMonitorMetricExporter): up-down counters cumulative, the rest delta.
const azureMonitorTemporality = (type: InstrumentType) =>
  type === InstrumentType.UP_DOWN_COUNTER || type === InstrumentType.OBSERVABLE_UP_DOWN_COUNTER
    ? AggregationTemporality.CUMULATIVE
    : AggregationTemporality.DELTA;

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
    const temporalityPreference = AggregationTemporality.DELTA;
    if (protocol === 'http/json') {
      spans.push(new LazySpanExporter((c) => new c.OtlpJsonTraceExporter()));
      metrics.push(new LazyMetricExporter((c) => new c.OtlpJsonMetricExporter({ temporalityPreference }), delta));
    } else if (protocol === 'http/protobuf') {
      spans.push(new LazySpanExporter((c) => new c.OtlpProtoTraceExporter()));
      metrics.push(new LazyMetricExporter((c) => new c.OtlpProtoMetricExporter({ temporalityPreference }), delta));
    } else {
      throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL ${protocol} is not supported: use http/protobuf or http/json`);
    }
  }
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (connectionString) {
    spans.push(new LazySpanExporter((c) => new c.AzureMonitorTraceExporter({ connectionString })));
    metrics.push(
      new LazyMetricExporter((c) => new c.AzureMonitorMetricExporter({ connectionString }), azureMonitorTemporality),
    );
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
