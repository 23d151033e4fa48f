// /_ping, /version, /info, and /distribution (no registry is reachable from shoal).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import { arch, cpus, release, totalmem } from 'node:os';
import { API_VERSION, MIN_API_VERSION, SHOAL_VERSION, ShoalError } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { publicCluster } from '../present.js';
import { sendJson } from '../reply.js';

export function systemRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
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

  app.get('/version', (_req, reply) =>
    sendJson(reply, 200, {
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
    }),
  );

  app.get('/info', (_req, reply) => sendJson(reply, 200, info(b)));

  app.get('/distribution/*', (req) => {
    const name = (req.params as { '*': string })['*'].replace(/\/json$/, '');
    // No registry is reachable from shoal; the CLI then warns and lets nodes use their local image.
    throw new ShoalError(
      'Internal',
      `no registry is reachable to resolve ${name}; nodes will use their local copy of the image`,
    );
  });
}

/** `docker info`: this node's facts and, on a manager, the swarm's. */
function info(b: ApiBackend): Record<string, unknown> {
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
