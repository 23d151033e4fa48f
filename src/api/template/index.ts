// Go templates as swarm expands them: a text/template subset (lex, parse, exec), Go's value
// printing, and swarm's contexts for task specs and templated secrets and configs.
export { Budget, compile, FuncError } from './exec.js';
export type { Template, TemplateFunc } from './exec.js';
export { TemplateError } from './parse.js';
export {
  checkSpecTemplates,
  expandContainerSpec,
  expandPayload,
  expandString,
  expandTask,
  payloadError,
  swarmContext,
  VALIDATION_CONTEXT,
} from './context.js';
export type { NodeAssignment, PayloadSources, SwarmContext, TemplateNode } from './context.js';
export { str, stringMap, int, bool } from './values.js';
export type { GoValue, GoType } from './values.js';
