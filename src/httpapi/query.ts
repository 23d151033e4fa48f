// Query parameters as Docker's daemon reads them (api/server/httputils/form.go).
import { invalidArgument } from '../api/index.js';

/** Docker's BoolValue: false for "", "0", "no", "false" and "none" (any case, trimmed); true otherwise. */
export function queryBool(v: string | undefined): boolean {
  const s = (v ?? '').trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** A whole-number parameter such as `version`; missing or malformed is a 400 naming it. */
export function queryInt(v: string | undefined, name: string): number {
  if (v === undefined || !/^-?\d{1,18}$/.test(v))
    throw invalidArgument(`invalid ${name} parameter: ${v ?? '(missing)'}`);
  return Number(v);
}
