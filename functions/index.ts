// The app's entry point (package.json "main" after the build): every function registers itself on import.
import { app } from '@azure/functions';
import { consoleLogger, ensureStorage, getConfig, getStorage } from '../lib/deps';
import { startTelemetry, telemetry } from '../lib/telemetry/telemetry';
import './putManagedDevice';
import './getManagedDevice';
import './listManagedDevices';
import './resetPasscode';
import './getDeviceActionResult';
import './cancelDeviceActionResult';
import './listDeviceActionResults';
import './getSupportMatrix';
import './listAuditEvents';
import './simulatorUnlock';
import './createSubscription';
import './listSubscriptions';
import './getSubscription';
import './renewSubscription';
import './deleteSubscription';
import './getMe';
import './health';
import './apiDocuments';
import './resetPasscodeWorker';
import './resetPasscodePoison';
import './notifications';
import './sweepDeviceActions';
import './syncManagedDevices';
import './syncManagedDevicesTimer';
import './syncManagedDevicesPage';
import './androidManagementNotifications';
import './consoleConfig';
import './consolePage';

app.setup({ enableHttpStream: false });

// Settings are parsed while the app loads, so a bad one stops start-up with one message naming every bad key.
getConfig();

// Tables and queues are created when missing. Storage being unreachable at start-up must not stop the app: requests
// then answer 503 and the queue trigger retries, until it is back.
app.hook.appStart(async () => {
  // OpenTelemetry (docs/operations.md): loaded before the first invocation, and only when an exporter is configured.
  await startTelemetry(process.env).catch((error: unknown) => {
    consoleLogger.warn('telemetry could not start; the app runs without it', {
      errorName: error instanceof Error ? error.name : typeof error,
    });
  });
  try {
    await ensureStorage(getStorage());
  } catch (error) {
    consoleLogger.warn('could not check the storage tables and queues at start-up', {
      errorName: error instanceof Error ? error.name : typeof error,
    });
  }
});

// What the exporters still buffer is sent before the process ends.
app.hook.appTerminate(() => telemetry().flush());
