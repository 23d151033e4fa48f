// The TLS flag rules shoald's entry (daemon/main.ts) shares with the CLI. The CLI itself is run
// by bin/shoal.js from shoal.ts, so loading these does not load its commands.
export { addTlsOptions, normalizeTlsFlags, parseBool } from './tlsflags.js';
export type { TlsFlags } from './tlsflags.js';
