// Many worker nodes in one process, each a real joined node: its own key and certificate from the
// manager's CA (the worker token, over the cluster port), its own mutual-TLS channel, and the
// real Agent and RemoteDispatcher (session, heartbeats at the period the manager names). Only the
// executor is simulated (no tasks are run here), so a fleet of hundreds costs one process.
import { Metadata } from '@grpc/grpc-js';
import { Agent, RemoteDispatcher, SimExecutor } from '../src/agent/index.js';
import { checkRootDigest, createKeyAndCsr } from '../src/ca/index.js';
import { systemClock } from '../src/platform/index.js';
import {
  CAServiceClient,
  CLUSTER_CHANNEL_OPTIONS,
  bootstrapChannelCredentials,
  managerChannelCredentials,
  unaryCall,
  type IssueNodeCertificateResponse,
  type TlsMaterial,
} from '../src/transport/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const deadline = (): { deadline: number } => ({ deadline: Date.now() + 10_000 });

/** The CA limits joins per address (10/s, burst 20); all of ours come from 127.0.0.1. */
const JOIN_GAP_MS = 105;
const MAX_JOIN_ATTEMPTS = 50;

export interface FleetNode {
  nodeId: string;
  agent: Agent;
  remote: RemoteDispatcher;
}

export class AgentFleet {
  readonly nodes: FleetNode[] = [];
  #rootsPem = '';
  #ca: CAServiceClient | undefined;

  constructor(
    private readonly manager: string,
    private readonly token: string,
  ) {}

  /** Fetches the root untrusted and checks it against the token, as a joining node does. */
  async #root(): Promise<string> {
    if (this.#rootsPem) return this.#rootsPem;
    const insecure = new CAServiceClient(
      this.manager,
      bootstrapChannelCredentials(),
      CLUSTER_CHANNEL_OPTIONS,
    );
    try {
      const { rootsPem } = await unaryCall<{ rootsPem: string }>((cb) =>
        insecure.getRootCa({}, new Metadata(), deadline(), cb),
      );
      checkRootDigest(this.token, rootsPem);
      this.#rootsPem = rootsPem;
      this.#ca = new CAServiceClient(
        this.manager,
        managerChannelCredentials({ rootsPem }),
        CLUSTER_CHANNEL_OPTIONS,
      );
      return rootsPem;
    } finally {
      insecure.close();
    }
  }

  async #join(hostname: string): Promise<{ nodeId: string; tls: TlsMaterial }> {
    await this.#root();
    const { keyPem, csrPem } = await createKeyAndCsr();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await unaryCall<IssueNodeCertificateResponse>((cb) =>
          this.#ca!.issueNodeCertificate(
            { csrPem, token: this.token, availability: 'active', hostname, addr: '127.0.0.1' },
            new Metadata(),
            deadline(),
            cb,
          ),
        );
        return { nodeId: res.nodeId, tls: { rootsPem: res.rootsPem, certPem: res.certificatePem, keyPem } };
      } catch (e) {
        // Refused by the rate limiter: wait for the bucket to refill.
        if (attempt >= MAX_JOIN_ATTEMPTS || !/too many join attempts/.test(String(e))) throw e;
        await sleep(200);
      }
    }
  }

  /** Joins nodes and starts their agents until the fleet has `n`. */
  async grow(n: number, log: (m: string) => void = () => undefined): Promise<void> {
    while (this.nodes.length < n) {
      const started = Date.now();
      const hostname = `hb-${String(this.nodes.length).padStart(5, '0')}`;
      const { nodeId, tls } = await this.#join(hostname);
      const remote = new RemoteDispatcher({ managers: [this.manager], tls: () => tls });
      const agent = new Agent({
        nodeId,
        addr: '127.0.0.1',
        dispatcher: remote,
        executor: new SimExecutor({
          Hostname: hostname,
          Platform: { OS: 'linux', Architecture: 'x86_64' },
          Resources: { NanoCPUs: 2e9, MemoryBytes: 4e9 },
          Engine: { EngineVersion: 'bench' },
        }),
        clock: systemClock,
        log: (m) => log(`${hostname}: ${m}`),
      });
      await agent.start();
      this.nodes.push({ nodeId, agent, remote });
      if (this.nodes.length % 100 === 0) log(`${this.nodes.length} nodes joined`);
      await sleep(Math.max(0, JOIN_GAP_MS - (Date.now() - started)));
    }
  }

  connected(): number {
    return this.nodes.filter((n) => n.agent.connected).length;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.agent.stop().finally(() => n.remote.close())));
    this.#ca?.close();
  }
}
