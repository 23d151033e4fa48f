// /_ping, /version and /info: the node's engine's figures with shoal's Swarm section and component,
// as a swarm node's dockerd answers (shoal's own figures while the engine does not answer).
// /distribution is the engine's (dispatch.ts): it resolves digests with the node's registry setup.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import { arch, cpus, release, totalmem } from 'node:os';
import { API_VERSION, MIN_API_VERSION, SHOAL_VERSION } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import type { EngineLink } from '../engineproxy.js';
import { publicCluster } from '../present.js';
import { sendJson } from '../reply.js';

type Json = Record<string, unknown>;

/** The engine's JSON object at `path`, or undefined when it does not answer with one. */
async function engineObject(engine: EngineLink | undefined, path: string): Promise<Json | undefined> {
  if (!engine) return undefined;
  try {
    const res = await engine.call('GET', path);
    const body = res.body;
    return res.status === 200 && body && typeof body === 'object' && !Array.isArray(body)
      ? (body as Json)
      : undefined;
  } catch {
    return undefined;
  }
}

export function systemRoutes(app: FastifyInstance<Server>, b: ApiBackend, engine?: EngineLink): void {
  // GET and HEAD (fastify adds HEAD for every GET); both carry the API headers of every answer.
  const ping = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.header('Cache-Control', 'no-cache, no-store, must-revalidate').header('Pragma', 'no-cache');
    reply.header(
      'Swarm',
      b.state === 'active' ? (b.isManager ? 'active/manager' : 'active/worker') : b.state,
    );
    return reply
      .code(200)
      .type('text/plain; charset=utf-8')
      .send(req.method === 'HEAD' ? '' : 'OK');
  };
  app.get('/_ping', ping);

  app.get('/version', async (_req, reply) => {
    const own = version(b);
    // Unversioned: the engine's newest shape, whatever version the client speaks to shoal.
    const e = await engineObject(engine, '/version');
    if (!e) return sendJson(reply, 200, own);
    const components = Array.isArray(e.Components) ? (e.Components as unknown[]) : [];
    // The CLI negotiates with shoal, so the API versions stay shoal's.
    return sendJson(reply, 200, {
      ...e,
      Components: [...components, ...own.Components],
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
    });
  });

  app.get('/info', async (_req, reply) => {
    const own = info(b);
    const e = await engineObject(engine, '/info');
    // The engine's figures (containers, images, storage, runtimes) under this node's name and swarm.
    return sendJson(reply, 200, e ? { ...e, Name: own.Name, Swarm: own.Swarm } : own);
  });
}

/** `/version` of shoal alone. */
function version(b: ApiBackend): Json & { Components: Json[] } {
  return {
    Platform: { Name: 'shoal' },
    Components: [
      {
        Name: 'shoal',
        Version: SHOAL_VERSION,
        Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: 'amd64' },
      },
    ],
    Version: SHOAL_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: 'shoal',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: arch() === 'x64' ? 'amd64' : arch(),
    KernelVersion: release(),
    BuildTime: new Date(b.startedAt).toISOString(),
  };
}

/** `docker info` of shoal alone: this node's facts and, on a manager, the swarm's. */
function info(b: ApiBackend): Json {
  const cluster = b.cluster();
  const nodes = cluster ? b.manager().store.view((tx) => tx.all('nodes')) : [];
  const managers = cluster
    ? nodes.flatMap((n) => (n.ManagerStatus ? [{ NodeID: n.ID, Addr: n.ManagerStatus.Addr }] : []))
    : b.managers.map((Addr) => ({ NodeID: '', Addr }));
  const swarm: Record<string, unknown> = {
    NodeID: b.nodeId ?? '',
    NodeAddr: b.nodeAddr,
    LocalNodeState: b.state,
    ControlAvailable: cluster !== undefined,
    Error: '',
    RemoteManagers: b.state === 'active' ? managers : null,
  };
  if (cluster) {
    swarm.Nodes = nodes.length;
    swarm.Managers = nodes.filter((n) => n.Spec.Role === 'manager').length;
    const { JoinTokens: _t, ...c } = publicCluster(cluster);
    swarm.Cluster = c;
  }
  return {
    ID: b.nodeId ?? '',
    Containers: 0,
    ContainersRunning: 0,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: 0,
    Driver: 'shoal',
    DriverStatus: [],
    Plugins: { Volume: null, Network: ['overlay'], Authorization: null, Log: null },
    MemoryLimit: true,
    SwapLimit: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: '1',
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: 'shoal',
    OSVersion: SHOAL_VERSION,
    OSType: 'linux',
    Architecture: arch() === 'x64' ? 'x86_64' : arch(),
    IndexServerAddress: '',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    GenericResources: null,
    DockerRootDir: b.dataRoot,
    Name: b.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: SHOAL_VERSION,
    Runtimes: {},
    DefaultRuntime: 'runc',
    Swarm: swarm,
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    SecurityOptions: [],
    Warnings: null,
  };
}
