// A follower manager's client of the leader's ManagerService: API writes carried to the leader
// whole (ForwardApi) and answered once this manager has applied them, and the logs of other
// nodes' tasks, which only the leader's broker can subscribe to (SubscribeLogs).
import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import { ShoalError, unavailable } from '../api/index.js';
import type { LogRequest, LogSink } from '../manager/index.js';
import type { MemoryStore } from '../state/index.js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  ManagerServiceClient,
  callLeader,
  managerChannelCredentials,
  unaryCall,
  type ForwardApiRequest,
  type ForwardApiResponse,
  type SubscribeLogsResponse,
  type TlsMaterial,
} from '../transport/index.js';

/** Docker's message when a write finds no leader (too few managers online). */
export const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
const FORWARD_TIMEOUT_MS = 60_000;
/** How long a follower waits to apply a write it forwarded before answering anyway. */
const FORWARD_CATCH_UP_MS = 5_000;

/** What the forwarder reads of its manager, as it is at each call. */
export interface LeaderLink {
  /** The leader's cluster address, when this manager knows who leads. */
  leaderAddr(): string | undefined;
  /** This manager's own cluster address. */
  selfAddr(): string | undefined;
  store(): MemoryStore | undefined;
  tls(): TlsMaterial | undefined;
  log(msg: string): void;
}

export class LeaderForwarder {
  #client: { addr: string; tls: TlsMaterial; client: ManagerServiceClient } | undefined;

  constructor(private readonly link: LeaderLink) {}

  /**
   * Runs an API write on the leader and answers once this manager has applied it too, so the
   * client reads its own write here. No leader: Docker's message for a swarm without quorum.
   */
  async forward(req: ForwardApiRequest): Promise<{ status: number; contentType: string; body: Buffer }> {
    const store = this.link.store();
    const addr = this.link.leaderAddr();
    if (!addr || !store) throw unavailable(NO_LEADER);
    let res: ForwardApiResponse;
    try {
      // A leader that changed meanwhile answers not-leader naming the new one: one hop more.
      res = await callLeader({ managers: [addr], maxHops: 2 }, (to) => {
        if (to === this.link.selfAddr()) throw unavailable(NO_LEADER);
        return this.#call(to, req);
      });
    } catch (e) {
      if (e instanceof ShoalError) throw e;
      const err = e as { code?: number; details?: string; message?: string };
      if (err.code === grpcStatus.UNAVAILABLE) throw unavailable(NO_LEADER);
      throw unavailable(`the leader did not answer: ${err.details || err.message || String(e)}`);
    }
    await waitForIndex(store, res.appliedIndex, FORWARD_CATCH_UP_MS);
    return { status: res.status, contentType: res.contentType, body: Buffer.from(res.body) };
  }

  /** One client per leader address and certificate, kept between writes. */
  #call(addr: string, req: ForwardApiRequest): Promise<ForwardApiResponse> {
    const tls = this.link.tls()!;
    if (!this.#client || this.#client.addr !== addr || this.#client.tls !== tls) {
      this.#client?.client.close();
      this.#client = {
        addr,
        tls,
        client: new ManagerServiceClient(addr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS),
      };
    }
    const client = this.#client.client;
    return unaryCall<ForwardApiResponse>((cb) =>
      client.forwardApi(req, new Metadata(), { deadline: Date.now() + FORWARD_TIMEOUT_MS }, cb),
    );
  }

  /** Asks the leader's broker for task logs; ends the sink at once when there is no leader to ask. */
  subscribeLogs(request: LogRequest, sink: LogSink): () => void {
    const addr = this.link.leaderAddr();
    const tls = this.link.tls();
    if (!this.link.store() || !tls || !addr || addr === this.link.selfAddr()) {
      sink.end();
      return () => undefined;
    }
    const client = new ManagerServiceClient(addr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS);
    const call = client.subscribeLogs({
      tasksByNodeJson: Buffer.from(JSON.stringify(Object.fromEntries(request.tasksByNode))),
      serviceId: request.serviceId ?? '',
      follow: request.follow,
      tail: request.tail ?? -1,
      since: request.since ?? 0,
      excludeNode: request.excludeNode ?? '',
    });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      client.close();
      sink.end();
    };
    call.on('data', (res: SubscribeLogsResponse) =>
      sink.lines(res.lines.map((l) => ({ ...l, stream: l.stream === 2 ? 2 : 1 }))),
    );
    call.on('error', (e: Error) => {
      if (!ended) this.link.log(`logs from the leader: ${e.message}`);
      end();
    });
    call.on('end', end);
    return () => {
      if (ended) return;
      call.cancel();
      end();
    };
  }

  close(): void {
    this.#client?.client.close();
    this.#client = undefined;
  }
}

/** Resolves once the store has applied `index`, or after timeoutMs. */
function waitForIndex(store: MemoryStore, index: number, timeoutMs: number): Promise<void> {
  if (store.index >= index) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const unsubscribe = store.subscribe((e) => {
      if (e.kind === 'commit' && e.index >= index) done();
    });
  });
}
