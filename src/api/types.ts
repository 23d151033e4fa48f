// Object shapes of the Docker Engine API (v1.41 swarm objects), written by hand against
// ../shared/reference/docker-engine-api/v1.41.yaml and the captured objects. One shape is used
// inside shoal and at the edge, so there is no translation layer. Durations are integer nanoseconds.

export interface Version {
  Index: number;
}

export interface Meta {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
}

export type Labels = Record<string, string>;

// ---- Swarm / cluster ----

export interface SwarmSpec {
  Name?: string;
  Labels?: Labels;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: {
    SnapshotInterval?: number;
    KeepOldSnapshots?: number;
    LogEntriesForSlowFollowers?: number;
    ElectionTick?: number;
    HeartbeatTick?: number;
  };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: {
    NodeCertExpiry?: number;
    ExternalCAs?: unknown[];
    SigningCACert?: string;
    SigningCAKey?: string;
    ForceRotate?: number;
  };
  TaskDefaults?: { LogDriver?: { Name?: string; Options?: Labels } };
  EncryptionConfig?: { AutoLockManagers?: boolean };
}

export interface Cluster extends Meta {
  Spec: SwarmSpec;
  TLSInfo: TLSInfo;
  RootRotationInProgress: boolean;
  DefaultAddrPool: string[] | null;
  SubnetSize: number;
  DataPathPort: number;
  JoinTokens: { Worker: string; Manager: string };
  /** shoal-internal, never returned by the API: the cluster CA's key material. */
  RootCA?: ClusterRootCA;
  /** shoal's own, never shown by the API: the managers' shared unlock key while autolock is on. */
  UnlockKey?: string;
}

export interface ClusterRootCA {
  CACert: string;
  CAKey: string;
  /** During a root rotation: the new root, and the new root cross-signed by the old one. */
  Rotation?: { CACert: string; CAKey: string; CrossSignedCACert: string };
}

export interface TLSInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

// ---- Nodes ----

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

export interface NodeSpec {
  Name?: string;
  Labels?: Labels;
  Role?: NodeRole;
  Availability?: NodeAvailability;
}

export interface NodeDescription {
  Hostname: string;
  Platform: { Architecture: string; OS: string };
  Resources: { NanoCPUs: number; MemoryBytes: number; GenericResources?: GenericResource[] };
  Engine: { EngineVersion: string; Labels?: Labels; Plugins?: { Type: string; Name: string }[] };
  TLSInfo?: TLSInfo;
}

export interface Node extends Meta {
  Spec: NodeSpec;
  Description: NodeDescription;
  Status: { State: NodeState; Message?: string; Addr: string };
  ManagerStatus?: {
    Leader?: boolean;
    Reachability: 'unknown' | 'unreachable' | 'reachable';
    Addr: string;
    /** shoal's own: the manager's member ID in the Raft group (never shown by the API). */
    RaftID?: number;
  };
  /**
   * shoal's own, never shown by the API: the node's own address (with prefix) on each overlay
   * network it has live tasks on, by network ID, given by the allocator.
   */
  NetworkAddrs?: Record<string, string>;
}

// ---- Services ----

export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Labels; DriverConfig?: { Name?: string; Options?: Labels } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

export interface FileTarget {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

export interface SecretReference {
  File?: FileTarget;
  SecretID: string;
  SecretName: string;
}

export interface ConfigReference {
  File?: FileTarget;
  Runtime?: Record<string, never>;
  ConfigID: string;
  ConfigName: string;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Labels;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  Privileges?: { CredentialSpec?: unknown; SELinuxContext?: unknown } | null;
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  StopGracePeriod?: number;
  HealthCheck?: HealthConfig;
  Healthcheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: SecretReference[];
  Configs?: ConfigReference[];
  Isolation?: string;
  Init?: boolean | null;
  Sysctls?: Labels;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
}

export interface ResourceSpec {
  NanoCPUs?: number;
  MemoryBytes?: number;
  Pids?: number;
  GenericResources?: GenericResource[];
}

/** A user-defined resource: a count (`gpu=2`) or one named item (`gpu=GPU-abc`). */
export interface GenericResource {
  NamedResourceSpec?: { Kind?: string; Value?: string };
  DiscreteResourceSpec?: { Kind?: string; Value?: number };
}

export type RestartCondition = 'none' | 'on-failure' | 'any';

export interface RestartPolicy {
  Condition?: RestartCondition;
  Delay?: number;
  MaxAttempts?: number;
  Window?: number;
}

export interface Placement {
  Constraints?: string[];
  Preferences?: { Spread?: { SpreadDescriptor: string } }[];
  MaxReplicas?: number;
  Platforms?: { Architecture?: string; OS?: string }[];
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Labels;
}

export interface TaskSpec {
  PluginSpec?: unknown;
  ContainerSpec?: ContainerSpec;
  NetworkAttachmentSpec?: unknown;
  Resources?: { Limits?: ResourceSpec; Reservations?: ResourceSpec };
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  ForceUpdate?: number;
  Runtime?: string;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name?: string; Options?: Labels };
}

export type FailureAction = 'continue' | 'pause' | 'rollback';
export type UpdateOrder = 'stop-first' | 'start-first';

export interface UpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: FailureAction;
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: UpdateOrder;
}

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  Global?: Record<string, never>;
  ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
  GlobalJob?: Record<string, never>;
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceSpec {
  Name?: string;
  Labels?: Labels;
  TaskTemplate?: TaskSpec;
  Mode?: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export type UpdateState =
  'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface UpdateStatus {
  State?: UpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface Endpoint {
  Spec: EndpointSpec;
  Ports?: PortConfig[];
  VirtualIPs?: { NetworkID: string; Addr: string }[];
}

export interface Service extends Meta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint: Endpoint;
  UpdateStatus?: UpdateStatus;
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
  JobStatus?: { JobIteration: { Index?: number }; LastExecution?: string };
  /**
   * shoal's own, never shown by the API (Docker hides PullOptions too): the X-Registry-Auth the
   * client sent with `--with-registry-auth`, as sent (base64url JSON), for the nodes' pulls.
   */
  RegistryAuth?: string;
  /** shoal's own, never shown: the registry auth that went with PreviousSpec. */
  PreviousRegistryAuth?: string;
}

// ---- Tasks ----

export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface ContainerStatus {
  ContainerID?: string;
  PID?: number;
  ExitCode?: number;
}

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: ContainerStatus;
  PortStatus: { Ports?: PortConfig[] };
}

export interface NetworkAttachment {
  Network: Network;
  Addresses: string[];
}

export interface Task extends Meta {
  Name?: string;
  Labels: Labels;
  Spec: TaskSpec;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  Status: TaskStatus;
  DesiredState: TaskState;
  NetworksAttachments?: NetworkAttachment[];
  /** The node's generic resources the scheduler gave this task (dockerd's JSON name for them). */
  GenericResources?: GenericResource[];
  /**
   * shoal's own, never shown by the API (swarmkit keeps them in the task's Endpoint): the host-mode
   * ports of its service when the task was allocated, which its container binds on its node.
   */
  HostPorts?: PortConfig[];
  JobIteration?: { Index?: number };
}

// ---- Networks ----

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
}

export interface NetworkSpec {
  Name: string;
  Labels?: Labels;
  DriverConfiguration?: { Name?: string; Options?: Labels };
  IPv6Enabled?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  IPAMOptions?: { Driver?: { Name?: string; Options?: Labels }; Configs?: IPAMConfig[] };
  Scope?: string;
}

export interface Network extends Meta {
  Spec: NetworkSpec;
  DriverState: { Name: string; Options?: Labels };
  IPAMOptions: { Driver: { Name: string; Options?: Labels }; Configs: IPAMConfig[] };
}

// ---- Secrets / configs ----

export interface Driver {
  Name: string;
  Options?: Labels;
}

export interface SecretSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 (standard, padded). Stored, but never returned by the API. */
  Data?: string;
  Driver?: Driver;
  Templating?: Driver;
}

export interface ConfigSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 (standard, padded); returned by inspect and list. */
  Data?: string;
  Templating?: Driver;
}

export interface Secret extends Meta {
  Spec: SecretSpec;
}

export interface Config extends Meta {
  Spec: ConfigSpec;
}
