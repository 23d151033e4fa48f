export { buildApp, listen, API_VERSION, MAX_API_VERSION, MIN_API_VERSION, SHOAL_VERSION } from './server.js';
export type { ListenOptions } from './server.js';
export { runForwarded } from './forwarding.js';
export type {
  ApiBackend,
  ForwardedRequest,
  ForwardedResponse,
  InitRequest,
  JoinRequest,
  LeaderLink,
  LocalNodeState,
  ManagerAccess,
} from './backend.js';
export { loadServerTls, parseTcpHost, tcpListenerNotice } from './tls.js';
export type { ApiTlsConfig, ApiTlsMode, ListenerNotice, ServerTls } from './tls.js';
export { serviceStatus } from './present.js';
