import type { InvocationContext } from '@azure/functions';
import { TraceparentSchema } from '../core/model';

/**
 * The invocation's W3C traceparent (the Functions host starts a trace for every request, and continues the caller's
 * when the request carries one), or undefined when it has none that fits the W3C format.
 */
export function traceparentOf(context: InvocationContext): string | undefined {
  const parsed = TraceparentSchema.safeParse(context.traceContext?.traceParent);
  return parsed.success ? parsed.data : undefined;
}
