export { EngineApiClient, DEFAULT_API_VERSION, compareApiVersions, negotiateApiVersion } from './client.js';
export type { ClientTls, EngineClientOptions } from './client.js';
