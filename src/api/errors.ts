// Expected failures are typed errors with a code. One table (httpStatusFor) maps codes to the
// HTTP status Docker uses; bugs are assertions and surface as 500.

export type ErrorCode =
  | 'InvalidArgument'
  | 'BadParameter'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'Conflict'
  | 'Unavailable'
  | 'NotImplemented'
  | 'Internal';

export class ShoalError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'ShoalError';
  }
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

const HTTP_STATUS: Record<ErrorCode, number> = {
  InvalidArgument: 400,
  BadParameter: 400,
  FailedPrecondition: 400,
  NotFound: 404,
  AlreadyExists: 409,
  // Docker answers a stale version with a 500 ("rpc error: code = Unknown"); a 409 says what it is.
  Conflict: 409,
  Unavailable: 503,
  NotImplemented: 501,
  Internal: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
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
