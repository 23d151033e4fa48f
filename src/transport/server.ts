// The cluster port: one gRPC server per node, mutual TLS, with the services the node's role
// provides. Handlers are async functions; their errors become gRPC statuses here, in one place.
import { codeForGrpcStatus, grpcStatusFor, invalidArgument, ShoalError } from '../api/index.js';
import {
  type Metadata,
  Server,
  type status,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ClusterServerCredentials, type TlsMaterial } from './tls.js';
import { leaderTrailer } from './leader.js';

/** Bounds on what a peer may send or keep open. */
const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_concurrent_streams': 1000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 1_000,
};

export class ClusterServer {
  #server = new Server(SERVER_OPTIONS);
  #creds: ClusterServerCredentials;
  #port = 0;

  constructor(tls: TlsMaterial) {
    this.#creds = new ClusterServerCredentials(tls);
  }

  addService<I extends UntypedServiceImplementation>(def: ServiceDefinition, impl: I): void {
    this.#server.addService(def, impl);
  }

  /** Binds host:port (port 0 picks one); resolves with the bound port. */
  listen(addr: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(addr, this.#creds, (err, port) => {
        if (err) {
          // The address is the caller's choice (swarm init/join --listen-addr): a 400, not a 500.
          reject(invalidArgument(`cannot listen on ${addr}: ${err.message}`));
          return;
        }
        this.#port = port;
        resolve(port);
      });
    });
  }

  get port(): number {
    return this.#port;
  }

  updateTls(tls: TlsMaterial): void {
    this.#creds.update(tls);
  }

  /** Stops accepting calls; open streams are cancelled after graceMs. */
  stop(graceMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Adapts an async handler to grpc-js: its errors become gRPC statuses through toServiceError. */
export function unary<Req, Res>(
  fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  log: (msg: string) => void = () => undefined,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    // A handler that throws before its first await still answers with its status.
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (res) => cb(null, res),
        (e: unknown) => cb(toServiceError(e, log)),
      );
  };
}

/**
 * The error a client sees for a gRPC status from another node: the code the status reads back as
 * (api/errors.ts), when it is the caller's to fix (InvalidArgument, FailedPrecondition), else
 * `fallback`.
 */
export function fromServiceError(e: unknown, fallback: (msg: string) => ShoalError): ShoalError {
  if (e instanceof ShoalError) return e;
  const err = e as { code?: number; details?: string; message?: string };
  const msg = err.details || err.message || String(e);
  const code = err.code === undefined ? undefined : codeForGrpcStatus(err.code);
  return code === 'InvalidArgument' || code === 'FailedPrecondition'
    ? new ShoalError(code, msg)
    : fallback(msg);
}

/** A handler's error as the gRPC status it is sent with: a ShoalError by its code, anything else INTERNAL. */
export function toServiceError(
  e: unknown,
  log: (msg: string) => void,
): { code: status; details: string; metadata?: Metadata } {
  if (e instanceof ShoalError) {
    const trailer = e.code === 'NotLeader' ? { metadata: leaderTrailer(e.leaderAddr) } : {};
    return { code: grpcStatusFor(e.code), details: e.message, ...trailer };
  }
  log(`cluster RPC failed: ${(e as Error).stack ?? String(e)}`);
  return { code: grpcStatusFor('Internal'), details: (e as Error).message };
}
