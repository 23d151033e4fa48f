// The server side of ManagerService (manager.proto): manager-only calls, each authorized from the
// caller's certificate; the node ID always comes from the certificate, never from the request.
import type {
  ForwardApiRequest,
  ForwardApiResponse,
  JoinRaftResponse,
  ManagerServiceServer,
} from './gen/shoal/v1/manager.js';
import { authorize, type PeerPolicy } from './peer.js';
import { unary } from './server.js';

export interface ManagerServiceOptions {
  policy: PeerPolicy;
  /** Adds the calling manager to the Raft group; throws a not-leader error off the leader. */
  joinRaft: (nodeId: string, addr: string) => Promise<JoinRaftResponse>;
  /** Runs a forwarded Engine API request; throws a not-leader error off the leader. */
  forwardApi: (req: ForwardApiRequest) => Promise<ForwardApiResponse>;
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
  };
}
