export { buildApp, listen, API_VERSION, MAX_API_VERSION, MIN_API_VERSION, SHOAL_VERSION } from './server.js';
