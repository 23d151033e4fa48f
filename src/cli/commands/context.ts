import type { Client } from '../client.js';

/** What every command group is given: the connection to shoald (made on use) and stdout. */
export interface CommandContext {
  /** A client for the daemon the global flags (-H, TLS) name; read when a command runs. */
  client: () => Client;
  print: (s: string) => void;
}
