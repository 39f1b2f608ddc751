// @azure/core-xml and the XML parser and builder under it (fast-xml-parser, fast-xml-builder, is-unsafe…: about
// 78 KiB minified) are in the app's bundle only because @azure/data-tables imports them for its access-policy and
// service-properties calls, which the app never makes. The queue SDK does need XML, and has it: it is a bundle of its
// own (dist/storageQueue.js, see tools/build.mjs), built without this plugin. In the app's bundle the module is
// replaced by functions that fail loudly. Should the Tables SDK ever meet an XML response (its replies and errors are
// JSON), core-client's deserializer turns the failure into a RestError that keeps the response's status, so
// storageErrors.ts still classifies it (test/integration/adapters/bundleWithoutXml.test.ts checks both).
export const noXml = {
  name: 'no-xml',
  setup(b) {
    b.onResolve({ filter: /^@azure\/core-xml$/ }, () => ({ path: '@azure/core-xml', namespace: 'no-xml' }));
    b.onLoad({ filter: /.*/, namespace: 'no-xml' }, () => ({
      contents: [
        'const leftOut = () => { throw new Error("XML is not in this bundle: see tools/noXml.mjs"); };',
        'export const parseXML = leftOut;',
        'export const stringifyXML = leftOut;',
        'export const XML_ATTRKEY = "$";',
        'export const XML_CHARKEY = "_";',
      ].join('\n'),
      loader: 'js',
    }));
  },
};
