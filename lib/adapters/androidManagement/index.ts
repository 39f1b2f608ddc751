// The Android Management channel, whole: built as dist/androidManagement.js and loaded by lib/deps.ts on its first
// use, so that Google's client libraries never weigh on the cold start of an app on another channel, nor on the HTTP
// functions of one on this channel (docs/PERFORMANCE.md).
import type { CommandStatus } from '../../core/model';
import { IdSchema } from '../../core/model';
import type { Clock } from '../../ports';
import { AndroidManagementChannel, AndroidManagementDeviceSource } from './channel';
import { type AndroidManagementClientOptions, createAndroidManagementApi } from './client';
import { type ApiOperation, commandStatusOf } from './operations';

export interface AndroidManagementOptions extends AndroidManagementClientOptions {
  enterprise: string;
  commandHours: number;
  lockNow: boolean;
  clock: Clock;
}

/** A COMMAND notification's operation, read: which device, which command, and how it stands. */
export interface PushedOperation {
  deviceId: string;
  reference: string;
  status: CommandStatus;
}

export function createAndroidManagement(options: AndroidManagementOptions) {
  const api = createAndroidManagementApi(options);
  const { enterprise, clock } = options;
  return {
    channel: new AndroidManagementChannel({ ...options, api }),
    source: new AndroidManagementDeviceSource({ enterprise, api, clock }),
    /**
     * The operation a Pub/Sub COMMAND notification carries (the Operation resource as JSON), or undefined when it is
     * not one of this enterprise's device operations.
     */
    pushedOperation(data: unknown): PushedOperation | undefined {
      const operation = data as ApiOperation | null;
      const name = typeof operation?.name === 'string' ? operation.name : '';
      const match = /^(enterprises\/[^/]+)\/devices\/([^/]+)\/operations\/[^/]+$/.exec(name);
      const deviceId = match?.[2];
      if (!operation || match?.[1] !== enterprise || !IdSchema.safeParse(deviceId).success) return undefined;
      return { deviceId: deviceId as string, reference: name, status: commandStatusOf(operation, clock.now()) };
    },
  };
}

export type AndroidManagement = ReturnType<typeof createAndroidManagement>;
