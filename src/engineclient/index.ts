export { EngineApiClient, DEFAULT_API_VERSION, compareApiVersions, negotiateApiVersion } from './client.js';
export type { ClientTls, EngineAnswer, EngineClientOptions } from './client.js';
// The TLS flags of an Engine API endpoint, the same on both sides as dockerd and docker have them:
// shoal reads them to reach shoald, shoald to serve its listeners.
export { addTlsOptions, clientTlsMode, loadClientTls, normalizeTlsFlags, parseBool } from './tlsflags.js';
export type { TlsFlags } from './tlsflags.js';
