import type { Plugin } from 'esbuild';

/** Replaces @azure/core-xml by functions that throw (see noXml.mjs). */
export declare const noXml: Plugin;
