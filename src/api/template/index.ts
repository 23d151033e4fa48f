// Go templates as swarm expands them: a text/template subset (lex, parse, exec), Go's value
// printing, and swarm's contexts for task specs and templated secrets and configs.
export { Budget, compile } from './exec.js';
export type { Template } from './exec.js';
export { FuncError } from './builtins.js';
export type { TemplateFunc } from './builtins.js';
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
