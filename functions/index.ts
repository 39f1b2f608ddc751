// The app's entry point (package.json "main" after the build): every function registers itself on import.
import { app } from '@azure/functions';
import { getConfig } from '../lib/deps';
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
import './health';
import './apiDocuments';
import './resetPasscodeWorker';
import './resetPasscodePoison';
import './sweepDeviceActions';

app.setup({ enableHttpStream: false });

// Settings are parsed while the app loads, so a bad one stops start-up with one message naming every bad key.
getConfig();
