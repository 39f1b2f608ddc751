// The credentials the storage clients may need, in a module of their own: the build emits it as dist/identity.js,
// loaded on the first token request only, so that the app's bundle (parsed at every cold start) stays small.
export { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
