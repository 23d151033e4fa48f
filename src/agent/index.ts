export { Agent } from './worker/agent.js';
export type { AgentOptions } from './worker/agent.js';
export { DockerExecutor, createOptions, LABEL } from './exec/docker/executor.js';
export { EngineClient, EngineError } from './exec/docker/engine.js';
export { SimExecutor } from './exec/sim.js';
export type { SimContainer } from './exec/sim.js';
export { containerName } from './exec/executor.js';
export type { Executor, Controller, ExitInfo, LogLine, LogOptions, Recovered } from './exec/executor.js';
