// Expected failures are one error type, ShoalError, with a code from one list (ErrorCode). One
// table (ERRORS) gives each code the HTTP status Docker answers with and its gRPC status on the
// cluster port, and is read backwards for a gRPC status a peer answered (codeForGrpcStatus), as
// trpc's getHTTPStatusCode does. Bugs are assertions and surface as 500 / INTERNAL.
//
// Errors that stay their own class, because no caller acts on them beyond stopping a process or
// refusing a start (internal integrity and I/O failures, not expected outcomes): DiskWriteError
// and DecryptError (platform), WalCorruptError and WalDecryptError (raft/log),
// RaftStorageCorruptError, SnapshotCorruptError, CodecError and ApplyError (raft/node), and
// RaftError and RaftInvariantError (raft/core, which imports nothing of ours).

/** gRPC's status codes, which are stable numbers; named here so that api/ needs no gRPC library. */
const GRPC = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Which part of shoal raises a code, for a caller that acts on a whole family (a CA refusal). */
export type ErrorSource = 'api' | 'cluster' | 'raft' | 'keys' | 'ca';

interface ErrorRow {
  source: ErrorSource;
  http: number;
  grpc: number;
}

/**
 * Every code, its source, its HTTP status and its gRPC status. Where codes share a gRPC status,
 * the first row is what that status reads back as, so the general codes come first.
 */
const ERRORS = {
  // The Engine API's errors, as Docker answers them.
  InvalidArgument: { source: 'api', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  /** A 400 that Docker's daemon raises itself (request decoding, path resolution): no rpc prefix. */
  BadParameter: { source: 'api', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  FailedPrecondition: { source: 'api', http: 400, grpc: GRPC.FAILED_PRECONDITION },
  NotFound: { source: 'api', http: 404, grpc: GRPC.NOT_FOUND },
  AlreadyExists: { source: 'api', http: 409, grpc: GRPC.ALREADY_EXISTS },
  // Docker answers a stale version with a 500 ("rpc error: code = Unknown"); a 409 says what it is.
  Conflict: { source: 'api', http: 409, grpc: GRPC.ABORTED },
  Unavailable: { source: 'api', http: 503, grpc: GRPC.UNAVAILABLE },
  NotImplemented: { source: 'api', http: 501, grpc: GRPC.UNIMPLEMENTED },
  Internal: { source: 'api', http: 500, grpc: GRPC.INTERNAL },

  // The cluster port's refusals of a caller (transport.authorize, the CA's join limiter).
  Unauthenticated: { source: 'cluster', http: 401, grpc: GRPC.UNAUTHENTICATED },
  PermissionDenied: { source: 'cluster', http: 403, grpc: GRPC.PERMISSION_DENIED },
  ResourceExhausted: { source: 'cluster', http: 429, grpc: GRPC.RESOURCE_EXHAUSTED },

  // A proposal or read Raft did not complete (raft/node), and so a write the cluster could not
  // take (state/proposer); `maybeCommitted` says when its outcome is unknown.
  /** No leader here: `leader` is the Raft leader known, `leaderAddr` its cluster address. */
  NotLeader: { source: 'raft', http: 503, grpc: GRPC.UNAVAILABLE },
  Dropped: { source: 'raft', http: 503, grpc: GRPC.UNAVAILABLE },
  Stopped: { source: 'raft', http: 503, grpc: GRPC.UNAVAILABLE },
  QuorumLost: { source: 'raft', http: 503, grpc: GRPC.UNAVAILABLE },
  /** This member's disk refuses writes (full, failing): this manager is at fault, not the cluster. */
  DiskFault: { source: 'raft', http: 500, grpc: GRPC.INTERNAL },

  // The manager's data key (ca/keystore.ts) and the unlock key that wraps it under autolock.
  WrongUnlockKey: { source: 'keys', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  MalformedUnlockKey: { source: 'keys', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  SwarmLocked: { source: 'keys', http: 503, grpc: GRPC.UNAVAILABLE },
  SwarmNotLocked: { source: 'keys', http: 409, grpc: GRPC.FAILED_PRECONDITION },
  KeysExist: { source: 'keys', http: 409, grpc: GRPC.ALREADY_EXISTS },
  KeysMissing: { source: 'keys', http: 503, grpc: GRPC.FAILED_PRECONDITION },
  KeysCorrupt: { source: 'keys', http: 500, grpc: GRPC.INTERNAL },

  // The cluster PKI (ca/pki.ts, ca/tokens.ts): certificates, CSRs and join tokens.
  BadCsr: { source: 'ca', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  BadIdentity: { source: 'ca', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  UntrustedCertificate: { source: 'ca', http: 401, grpc: GRPC.UNAUTHENTICATED },
  CertificateExpired: { source: 'ca', http: 401, grpc: GRPC.UNAUTHENTICATED },
  CertificateNotYetValid: { source: 'ca', http: 401, grpc: GRPC.UNAUTHENTICATED },
  BadJoinToken: { source: 'ca', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  RootDigestMismatch: { source: 'ca', http: 400, grpc: GRPC.INVALID_ARGUMENT },
} as const satisfies Record<string, ErrorRow>;

export type ErrorCode = keyof typeof ERRORS;

/** What a failure carries besides its code and message; each field only for the codes named. */
export interface ErrorDetails {
  /** NotLeader from Raft: the Raft ID of the leader this member knows of (0 if none). */
  leader?: number;
  /** NotLeader on the cluster port: the leader's address, sent in the `shoal-leader` trailer. */
  leaderAddr?: string;
  /** Raft codes: the entry reached the log and may still commit, so the outcome is unknown. */
  maybeCommitted?: boolean;
  cause?: unknown;
}

export class ShoalError extends Error {
  readonly code: ErrorCode;
  // Declared, not defined: an error without a detail has no such property at all.
  declare readonly leader?: number;
  declare readonly leaderAddr?: string;
  declare readonly maybeCommitted?: boolean;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.code = code;
    this.name = 'ShoalError';
    if (details.leader !== undefined) this.leader = details.leader;
    if (details.leaderAddr !== undefined) this.leaderAddr = details.leaderAddr;
    if (details.maybeCommitted !== undefined) this.maybeCommitted = details.maybeCommitted;
  }
}

/** A ShoalError, from `source` when given (`isShoalError(e, 'ca')`: the CA refused something). */
export function isShoalError(e: unknown, source?: ErrorSource): e is ShoalError {
  return e instanceof ShoalError && (source === undefined || ERRORS[e.code].source === source);
}

export const invalidArgument = (msg: string): ShoalError => new ShoalError('InvalidArgument', msg);
/** A 400 that Docker's daemon raises itself (request decoding, path resolution): no rpc prefix. */
export const badParameter = (msg: string): ShoalError => new ShoalError('BadParameter', msg);
export const notFound = (msg: string): ShoalError => new ShoalError('NotFound', msg);
export const alreadyExists = (msg: string): ShoalError => new ShoalError('AlreadyExists', msg);
export const failedPrecondition = (msg: string): ShoalError => new ShoalError('FailedPrecondition', msg);
export const unavailable = (msg: string): ShoalError => new ShoalError('Unavailable', msg);

/** "update out of sequence": a write carried a stale Version.Index. */
export const outOfSequence = (): ShoalError => new ShoalError('Conflict', 'update out of sequence');

export function httpStatusFor(code: ErrorCode): number {
  return ERRORS[code].http;
}

/** The gRPC status a code is sent with on the cluster port. */
export function grpcStatusFor(code: ErrorCode): number {
  return ERRORS[code].grpc;
}

const CODE_BY_GRPC = new Map<number, ErrorCode>();
for (const code of Object.keys(ERRORS) as ErrorCode[])
  if (!CODE_BY_GRPC.has(ERRORS[code].grpc)) CODE_BY_GRPC.set(ERRORS[code].grpc, code);

/** The code a gRPC status from a peer reads as (the general one where codes share it), if any. */
export function codeForGrpcStatus(status: number): ErrorCode | undefined {
  return CODE_BY_GRPC.get(status);
}

/** Docker prefixes errors that crossed its manager's gRPC boundary; the CLI prints them verbatim. */
const RPC_PREFIXED: ReadonlySet<ErrorCode> = new Set([
  'InvalidArgument',
  'AlreadyExists',
  'FailedPrecondition',
]);

export function dockerMessageFor(err: ShoalError): string {
  return RPC_PREFIXED.has(err.code) ? `rpc error: code = ${err.code} desc = ${err.message}` : err.message;
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// --- An Engine API answer as an error (issue 18: one Engine API client for the agent and CLI) ---

/** An error an Engine API server answered, with its HTTP status (what callers branch on). */
export class HttpStatusError extends ShoalError {
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string) {
    super(code, message);
    this.status = status;
    this.name = 'HttpStatusError';
  }
}

/** The reverse of httpStatusFor, for a status an Engine API server answered. */
function codeForHttpStatus(status: number): ErrorCode {
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 501) return 'NotImplemented';
  if (status === 503) return 'Unavailable';
  // BadParameter, not InvalidArgument: a 400 we pass on gets no rpc prefix it never had.
  if (status >= 400 && status < 500) return 'BadParameter';
  return 'Internal';
}

/** A ShoalError for an HTTP answer of `status` (404 → NotFound, 409 → Conflict, …), status kept. */
export function errorFromHttpStatus(status: number, message: string): HttpStatusError {
  return new HttpStatusError(codeForHttpStatus(status), status, message);
}
