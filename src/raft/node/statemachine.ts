// The application a RaftNode drives, and the error that stops the node when that application
// cannot apply a committed entry.
import type { Entry } from '../core/index.js';

/** The replicated application. Calls are synchronous and in log order. */
export interface StateMachine {
  /** A committed normal entry with data (the leaders' empty entries are not passed on). */
  apply(entry: Entry): void;
  /** The state as of the last applied entry. */
  snapshot(): Uint8Array;
  /**
   * The same, without blocking the event loop for long: the state must be captured when called
   * (as of the last applied entry) and may be serialized over later turns.
   */
  snapshotAsync?(): Promise<Uint8Array>;
  /** Replaces the state with a snapshot's, taken at `index`. */
  restore(data: Uint8Array, index: number): void;
}

/**
 * A committed entry the state machine could not apply: a bug, since everything is validated
 * before it is proposed. The member stops rather than skip it, since every manager would skip it
 * alike only by luck; the operator decides (see "A committed entry that fails to apply" in
 * docs/ARCHITECTURE.md).
 */
export class ApplyError extends Error {
  constructor(
    readonly index: number,
    readonly term: number,
    cause: unknown,
  ) {
    super(
      `committed entry ${index} (term ${term}) failed to apply: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        `this manager stopped before it; to go past it, restart every manager with --raft-skip-entry ${index}`,
    );
    this.name = 'ApplyError';
  }
}
