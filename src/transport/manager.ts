// The server side of ManagerService (manager.proto): manager-only calls, each authorized from the
// caller's certificate; the node ID always comes from the certificate, never from the request.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type {
  ForwardApiRequest,
  ForwardApiResponse,
  JoinRaftResponse,
  ManagerServiceServer,
  SubscribeLogsRequest,
  SubscribeLogsResponse,
} from './gen/shoal/v1/manager.js';
import type { LogLine } from './gen/shoal/v1/cluster.js';
import { authorize, type PeerPolicy } from './peer.js';
import { toServiceError, unary } from './server.js';

export interface ManagerServiceOptions {
  policy: PeerPolicy;
  /** Adds the calling manager to the Raft group; throws a not-leader error off the leader. */
  joinRaft: (nodeId: string, addr: string) => Promise<JoinRaftResponse>;
  /** Runs a forwarded Engine API request; throws a not-leader error off the leader. */
  forwardApi: (req: ForwardApiRequest) => Promise<ForwardApiResponse>;
  /**
   * Subscribes to task logs on other nodes for a follower's `service logs`; returns the cancel
   * function. Throws a not-leader error off the leader.
   */
  subscribeLogs: (
    req: SubscribeLogsRequest,
    sink: { lines(lines: LogLine[]): void; end(): void },
  ) => () => void;
  log?: (msg: string) => void;
}

export function managerService(o: ManagerServiceOptions): ManagerServiceServer {
  const log = o.log ?? (() => undefined);
  return {
    joinRaft: unary((call) => {
      const { nodeId } = authorize(call, o.policy, ['manager']);
      return o.joinRaft(nodeId, call.request.addr);
    }, log),
    forwardApi: unary((call) => {
      authorize(call, o.policy, ['manager']);
      return o.forwardApi(call.request);
    }, log),
    subscribeLogs(call: ServerWritableStream<SubscribeLogsRequest, SubscribeLogsResponse>): void {
      let cancel: (() => void) | undefined;
      try {
        authorize(call, o.policy, ['manager']);
        cancel = o.subscribeLogs(call.request, {
          lines: (lines) => call.write({ lines }),
          end: () => call.end(),
        });
      } catch (e) {
        const err = toServiceError(e, log);
        call.emit('error', Object.assign(new Error(err.details), err));
        return;
      }
      call.on('cancelled', cancel);
      call.on('close', cancel);
    },
  };
}
