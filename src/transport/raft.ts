// Raft between managers over the cluster port. Each member keeps one long-lived client stream to
// every peer and writes the messages its node sends; the peer's server decodes them and hands
// them to its own node. Delivery is best effort, as RaftTransport promises: a broken stream loses
// what was in flight, a dead peer's queue drops its oldest messages, and Raft resends.
import {
  Metadata,
  status,
  type ClientWritableStream,
  type ServerReadableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  decodeMessage,
  encodeMessage,
  type Message,
  type NodeId,
  type RaftTransport,
} from '../raft/index.js';
import {
  RaftServiceClient,
  RaftServiceService,
  type RaftServiceServer,
  type StreamRaftMessageRequest,
  type StreamRaftMessageResponse,
} from './gen/shoal/v1/raft.js';
import { authorize, type PeerPolicy } from './peer.js';
import { toServiceError, type ClusterServer } from './server.js';
import { CLUSTER_CHANNEL_OPTIONS, managerChannelCredentials, type TlsMaterial } from './tls.js';

/** The cluster port's receive cap, less room for the request's own framing. */
export const MAX_RAFT_MESSAGE_BYTES = 16 * 1024 * 1024 - 64;

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

const CHANNEL_OPTIONS = {
  ...CLUSTER_CHANNEL_OPTIONS,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.initial_reconnect_backoff_ms': MIN_BACKOFF_MS,
  'grpc.max_reconnect_backoff_ms': MAX_BACKOFF_MS,
  // Retries would buffer every written message per call; Raft does its own resending.
  'grpc.enable_retries': 0,
};

export interface GrpcRaftTransportOptions {
  selfId: NodeId;
  /** Raft ID → cluster address (host:port) of every other manager; read on each send. */
  peers: () => ReadonlyMap<NodeId, string>;
  /** The node's current TLS material: the same object until it changes (a new one reconnects). */
  tls: () => TlsMaterial;
  log?: (msg: string) => void;
  /** Messages waiting for one peer's stream; beyond this the oldest are dropped. Default 1024. */
  maxQueuedPerPeer?: number;
  /** The same bound in bytes. Default 64 MiB. */
  maxQueuedBytesPerPeer?: number;
}

export interface RaftPeerStats {
  addr: string;
  /** A stream is open and the peer accepted it. */
  connected: boolean;
  queued: number;
  queuedBytes: number;
  /** Messages handed to a stream (not necessarily received). */
  written: number;
  /** Messages dropped because the queue was full. */
  dropped: number;
  /** Streams opened so far. */
  streams: number;
  /** Channels created so far (a new one per address or TLS change). */
  channels: number;
}

interface Connection {
  addr: string;
  tls: TlsMaterial;
  client: RaftServiceClient;
}

/** The queue and stream towards one peer. */
class PeerLink {
  readonly #id: NodeId;
  readonly #log: (msg: string) => void;
  readonly #maxQueued: number;
  readonly #maxBytes: number;
  #target: { addr: string; tls: TlsMaterial };
  #conn: Connection | undefined;
  #stream: ClientWritableStream<StreamRaftMessageRequest> | undefined;
  #accepted = false;
  #blocked = false;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #backoffMs = 0;
  #retryAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #written = 0;
  #dropped = 0;
  #streams = 0;
  #channels = 0;

  constructor(
    id: NodeId,
    target: { addr: string; tls: TlsMaterial },
    o: { log: (msg: string) => void; maxQueued: number; maxBytes: number },
  ) {
    this.#id = id;
    this.#target = target;
    this.#log = o.log;
    this.#maxQueued = o.maxQueued;
    this.#maxBytes = o.maxBytes;
  }

  retarget(addr: string, tls: TlsMaterial): void {
    this.#target = { addr, tls };
    const c = this.#conn;
    if (!c || (c.addr === addr && c.tls === tls)) return;
    // Moved or renewed: what is in flight may be lost, the next flush dials the new target.
    this.#detach()?.end();
    c.client.close();
    this.#conn = undefined;
    this.#backoffMs = 0;
    this.#retryAt = 0;
  }

  enqueue(msg: Buffer): void {
    this.#queue.push(msg);
    this.#queuedBytes += msg.byteLength;
    while (this.#queue.length > this.#maxQueued || this.#queuedBytes > this.#maxBytes) {
      this.#queuedBytes -= this.#queue.shift()!.byteLength;
      this.#dropped++;
    }
  }

  flush(): void {
    if (this.#closed || this.#blocked || this.#queue.length === 0) return;
    let stream = this.#stream;
    if (!stream) {
      const wait = this.#retryAt - Date.now();
      if (wait > 0) {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.flush();
        }, wait).unref();
        return;
      }
      stream = this.#open();
    }
    while (this.#queue.length > 0) {
      const msg = this.#queue.shift()!;
      this.#queuedBytes -= msg.byteLength;
      this.#written++;
      if (!stream.write({ message: msg })) {
        // The stream's own buffer is full: the rest waits in the bounded queue.
        this.#blocked = true;
        stream.once('drain', () => {
          if (this.#stream !== stream) return;
          this.#blocked = false;
          this.flush();
        });
        return;
      }
    }
  }

  #open(): ClientWritableStream<StreamRaftMessageRequest> {
    const { addr, tls } = this.#target;
    if (!this.#conn) {
      this.#conn = {
        addr,
        tls,
        client: new RaftServiceClient(addr, managerChannelCredentials(tls), CHANNEL_OPTIONS),
      };
      this.#channels++;
    }
    this.#streams++;
    const stream = this.#conn.client.streamRaftMessage(new Metadata(), (err) => {
      if (this.#stream !== stream) return;
      this.#broken(err ? `${status[err.code] ?? err.code}: ${err.details || err.message}` : 'ended');
    });
    stream.on('metadata', () => {
      if (this.#stream !== stream) return;
      if (!this.#accepted && this.#backoffMs > MIN_BACKOFF_MS)
        this.#log(`raft: stream to ${this.#id} at ${addr} is up`);
      this.#accepted = true;
      this.#backoffMs = 0;
    });
    stream.on('error', (e) => {
      if (this.#stream === stream) this.#broken(e.message);
    });
    this.#stream = stream;
    this.#accepted = false;
    return stream;
  }

  #broken(why: string): void {
    const wasUp = this.#accepted;
    this.#detach();
    // Logged when a working stream breaks and on the first failure, not on every retry.
    if (wasUp || this.#backoffMs === 0)
      this.#log(`raft: stream to ${this.#id} at ${this.#target.addr} broke (${why}); retrying`);
    this.#backoffMs = this.#backoffMs === 0 ? MIN_BACKOFF_MS : Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
    this.#retryAt = Date.now() + this.#backoffMs;
    this.flush();
  }

  #detach(): ClientWritableStream<StreamRaftMessageRequest> | undefined {
    const s = this.#stream;
    this.#stream = undefined;
    this.#accepted = false;
    this.#blocked = false;
    return s;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#detach()?.end();
    this.#conn?.client.close();
    this.#conn = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  stats(): RaftPeerStats {
    return {
      addr: this.#target.addr,
      connected: this.#accepted,
      queued: this.#queue.length,
      queuedBytes: this.#queuedBytes,
      written: this.#written,
      dropped: this.#dropped,
      streams: this.#streams,
      channels: this.#channels,
    };
  }
}

/**
 * The Raft transport between managers. Messages for a peer wait in a bounded queue and go out on
 * one long-lived stream per peer, opened on demand and reopened with backoff (100 ms → 2 s) when
 * it breaks. Incoming messages arrive through `deliver`, which the server side (`raftService`)
 * calls.
 */
export class GrpcRaftTransport implements RaftTransport {
  readonly #o: GrpcRaftTransportOptions;
  readonly #log: (msg: string) => void;
  readonly #links = new Map<NodeId, PeerLink>();
  #handler: ((m: Message) => void) | undefined;
  #closed = false;
  #unknown = 0;

  constructor(o: GrpcRaftTransportOptions) {
    this.#o = o;
    this.#log = o.log ?? (() => undefined);
  }

  send(msgs: readonly Message[]): void {
    if (this.#closed || msgs.length === 0) return;
    const peers = this.#o.peers();
    const tls = this.#o.tls();
    for (const [id, link] of this.#links) {
      if (peers.has(id)) continue;
      link.close();
      this.#links.delete(id);
    }
    const touched = new Set<PeerLink>();
    for (const m of msgs) {
      const addr = peers.get(m.to);
      if (addr === undefined || m.to === this.#o.selfId) {
        this.#unknown++;
        continue;
      }
      const enc = encodeMessage(m);
      const bytes = Buffer.from(enc.buffer, enc.byteOffset, enc.byteLength);
      if (bytes.byteLength > MAX_RAFT_MESSAGE_BYTES) {
        this.#log(`raft: dropped a ${m.type} of ${bytes.byteLength} bytes to ${m.to}: over the message cap`);
        continue;
      }
      let link = this.#links.get(m.to);
      if (link) link.retarget(addr, tls);
      else {
        link = new PeerLink(
          m.to,
          { addr, tls },
          {
            log: this.#log,
            maxQueued: this.#o.maxQueuedPerPeer ?? 1024,
            maxBytes: this.#o.maxQueuedBytesPerPeer ?? 64 * 1024 * 1024,
          },
        );
        this.#links.set(m.to, link);
      }
      link.enqueue(bytes);
      touched.add(link);
    }
    for (const link of touched) link.flush();
  }

  onMessage(handler: (m: Message) => void): () => void {
    this.#handler = handler;
    return () => {
      if (this.#handler === handler) this.#handler = undefined;
    };
  }

  /** Hands a message received by the server side to the node. */
  deliver(m: Message): void {
    if (this.#closed || m.to !== this.#o.selfId) return;
    this.#handler?.(m);
  }

  /** Per-peer queue and stream figures, and messages dropped for want of an address. */
  stats(): { peers: Map<NodeId, RaftPeerStats>; unknownDropped: number } {
    const peers = new Map<NodeId, RaftPeerStats>();
    for (const [id, link] of this.#links) peers.set(id, link.stats());
    return { peers, unknownDropped: this.#unknown };
  }

  /** Ends every stream and channel; later sends are ignored. */
  close(): void {
    this.#closed = true;
    this.#handler = undefined;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }
}

export interface RaftServiceOptions {
  policy: PeerPolicy;
  /** Receives each decoded message, with the node ID of the manager that sent it (from its certificate). */
  deliver: (m: Message, fromNode: string) => void;
  log?: (msg: string) => void;
}

/**
 * The server side of Raft streams. Only managers may open one; a stream carrying bytes that do not
 * decode as a Raft message ends with INVALID_ARGUMENT and delivers nothing more.
 */
export function raftService(o: RaftServiceOptions): RaftServiceServer {
  const log = o.log ?? (() => undefined);
  return {
    streamRaftMessage(
      call: ServerReadableStream<StreamRaftMessageRequest, StreamRaftMessageResponse>,
      cb: sendUnaryData<StreamRaftMessageResponse>,
    ): void {
      let peer: string;
      try {
        peer = authorize(call, o.policy, ['manager']).nodeId;
      } catch (e) {
        cb(toServiceError(e, log));
        return;
      }
      // Headers now rather than at the end: they tell the client its stream was accepted.
      call.sendMetadata(new Metadata());
      let done = false;
      call.on('data', (req: StreamRaftMessageRequest) => {
        if (done) return;
        let m: Message;
        try {
          m = decodeMessage(req.message);
        } catch (e) {
          done = true;
          log(`raft: refused a stream from ${peer}: ${(e as Error).message}`);
          cb({ code: status.INVALID_ARGUMENT, details: `not a raft message: ${(e as Error).message}` });
          return;
        }
        try {
          o.deliver(m, peer);
        } catch (e) {
          log(`raft: delivering ${m.type} from ${m.from} failed: ${(e as Error).stack ?? String(e)}`);
        }
      });
      call.on('end', () => {
        if (done) return;
        done = true;
        cb(null, {});
      });
      call.on('error', () => {
        done = true;
      });
    },
  };
}

/** Adds the Raft service to a manager's cluster server. */
export function registerRaftService(server: ClusterServer, o: RaftServiceOptions): void {
  server.addService(RaftServiceService, raftService(o));
}
