// A grpc-js unary call as a promise: the one adapter from its callback form. A failed call
// rejects with the ServiceError as grpc-js gives it (code, details, metadata with any leader hint).
import type { ServiceError } from '@grpc/grpc-js';

export function unaryCall<T>(start: (done: (err: ServiceError | null, res?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res as T))));
}
