import type { Meter } from '@opentelemetry/api';

/** OpenTelemetry span kinds, by name (the SDK's enum stays in the telemetry bundle). */
export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue | undefined>;

interface SpanOptions {
  kind: SpanKindName;
  attributes?: Attributes;
  /** A W3C traceparent to continue instead of the active span (a queue message's producer). */
  parent?: string;
  /** Other traces this span relates to (the host's own invocation trace), as W3C traceparents. */
  links?: string[];
}

/** The span a piece of work runs in. Attributes carry ids and outcomes only: never a secret or a URL's query. */
export interface SpanHandle {
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed, with a stable error type (an error code or class name), never a message. */
  fail(errorType: string): void;
  /** This span's W3C traceparent, to pass on to work that continues it (a queue message, a webhook call). */
  traceparent(): string;
}

/** The port the app traces through; the SDK behind it is loaded only when an exporter is configured. */
export interface Tracing {
  /** Runs `work` in a new span, the active one while it runs; a thrown error fails and ends the span. */
  span<T>(name: string, options: SpanOptions, work: (span: SpanHandle) => Promise<T>): Promise<T>;
  /** The active span's traceparent, if one is active. */
  activeTraceparent(): string | undefined;
}

export interface Telemetry {
  tracing: Tracing;
  /** Undefined when telemetry is off: no instrument is created. */
  meter?: Meter;
  /** Exports what is buffered (at shutdown). */
  flush(): Promise<void>;
}

const noSpan: SpanHandle = {
  setAttributes: () => undefined,
  fail: () => undefined,
  traceparent: () => '',
};

/** Telemetry off: work runs as is. */
export const noTelemetry: Telemetry = {
  tracing: { span: (_name, _options, work) => work(noSpan), activeTraceparent: () => undefined },
  flush: async () => undefined,
};

/** Whether any exporter is configured: Application Insights, or an OTLP endpoint (the OpenTelemetry variables). */
export function telemetryEnabled(env: NodeJS.ProcessEnv): boolean {
  return [
    env.APPLICATIONINSIGHTS_CONNECTION_STRING,
    env.OTEL_EXPORTER_OTLP_ENDPOINT,
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  ].some((value) => value !== undefined && value.trim() !== '');
}

let active: Telemetry = noTelemetry;
let starting: Promise<Telemetry> | undefined;

/** The process's telemetry: `noTelemetry` until `startTelemetry` has loaded the SDK (and for good when it is off). */
export const telemetry = (): Telemetry => active;

/**
 * Loads the telemetry bundle (dist/telemetry.js, the OpenTelemetry SDK and exporters) when an exporter is configured,
 * once per process. With none configured nothing is loaded and this resolves to `noTelemetry`.
 */
export function startTelemetry(env: NodeJS.ProcessEnv): Promise<Telemetry> {
  if (!telemetryEnabled(env)) return Promise.resolve(noTelemetry);
  starting ??= import('./sdk').then((sdk) => {
    active = sdk.createTelemetry(env);
    return active;
  });
  return starting;
}

/** For tests: the telemetry every instrumented call uses from now on. */
export function useTelemetryForTests(replacement: Telemetry | undefined): void {
  active = replacement ?? noTelemetry;
}
