/**
 * The zod the app's code imports: zod/mini, whose checks and wrappers are functions rather than methods, so that the
 * bundle keeps only the parts the app uses, with zod's English messages, which the API's 400 details show. See
 * docs/PERFORMANCE.md "Bundle and cold start". (The console has its own: lib/console/app.)
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';

z.config(en());

export * from 'zod/mini';
