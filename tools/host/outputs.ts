import type { QueueClient } from '@azure/storage-queue';
import type { QueuesConfig } from './config';
import type { RegisteredFunction } from './coreApi';
import type { RpcBindingInfo, RpcInvocationResponse, RpcTypedData } from './coreTypes';
import { queueClientFor, resolveBindingExpression, resolveStorageConnection } from './queue';

/** Output binding types this host writes; `http` is handled by the HTTP front end. */
export const SUPPORTED_OUTPUTS = new Set(['http', 'queue']);

function toMessages(data: RpcTypedData): string[] {
  if (typeof data.string === 'string') return [data.string];
  if (data.bytes) return [Buffer.from(data.bytes).toString('utf8')];
  if (typeof data.int === 'number') return [String(data.int)];
  if (typeof data.double === 'number') return [String(data.double)];
  if (data.collectionString?.string) return data.collectionString.string;
  if (typeof data.json === 'string') {
    const value: unknown = JSON.parse(data.json);
    // An array output writes one message per element.
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  }
  return [];
}

/** Writes `queue` output bindings (return value and extra outputs) after a successful invocation. */
export function createOutputWriter(env: NodeJS.ProcessEnv, queues: QueuesConfig) {
  const created = new Map<string, Promise<unknown>>();
  const clientFor = (binding: RpcBindingInfo): QueueClient => {
    const queueName = resolveBindingExpression(String(binding.queueName ?? ''), env).toLowerCase();
    return queueClientFor(resolveStorageConnection(binding.connection, env), queueName);
  };
  return async (fn: RegisteredFunction, response: RpcInvocationResponse): Promise<void> => {
    const outputs: { binding: RpcBindingInfo; data: RpcTypedData }[] = [];
    const returnBinding = fn.bindings.$return;
    if (returnBinding?.type?.toLowerCase() === 'queue' && response.returnValue) {
      outputs.push({ binding: returnBinding, data: response.returnValue });
    }
    for (const output of response.outputData ?? []) {
      const binding = output.name ? fn.bindings[output.name] : undefined;
      if (binding?.type?.toLowerCase() === 'queue' && output.data) outputs.push({ binding, data: output.data });
    }
    for (const { binding, data } of outputs) {
      const client = clientFor(binding);
      const key = client.url;
      if (!created.has(key)) created.set(key, client.createIfNotExists());
      await created.get(key);
      for (const text of toMessages(data)) {
        const encoded = queues.messageEncoding === 'base64' ? Buffer.from(text).toString('base64') : text;
        await client.sendMessage(encoded);
      }
    }
  };
}
