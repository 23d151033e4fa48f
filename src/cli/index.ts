export { Client, ApiError } from './client.js';
export type { ClientOptions } from './client.js';
