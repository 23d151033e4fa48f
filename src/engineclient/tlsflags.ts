// The TLS flags shoald and shoal share with dockerd and the docker CLI: --tls, --tlsverify,
// --tlscacert, --tlscert, --tlskey, whose files default to ca.pem, cert.pem and key.pem in
// $DOCKER_CERT_PATH (else $DOCKER_CONFIG, else ~/.docker), as both of docker's programs do.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { ClientTls } from './client.js';

/** Go's strconv.ParseBool, which dockerd's and docker's boolean flags use. */
export function parseBool(flag: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new Error(`invalid argument "${v}" for "--${flag}" flag: use true or false`);
}

/**
 * Go's boolean flags take a value only as --flag=value, and '--tls=false' is how dockerd is told
 * "no TLS, on purpose". Commander's booleans take no value, so it becomes the hidden --no-tls.
 * The scan stops at a subcommand's name: what follows belongs to it (a container's arguments).
 */
export function normalizeTlsFlags(argv: readonly string[], subcommands: ReadonlySet<string>): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    if (a === '--' || subcommands.has(a)) break;
    const m = /^--(tls|tlsverify)=(.*)$/.exec(a);
    if (m) out[i] = parseBool(m[1]!, m[2]!) ? `--${m[1]}` : `--no-${m[1]}`;
  }
  return out;
}

export function defaultCertDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || join(homedir(), '.docker');
}

export interface TlsFlags {
  /** undefined: not given; --tls / --tls=true: true; --tls=false: false. */
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert: string;
  tlscert: string;
  tlskey: string;
}

export function addTlsOptions(cmd: Command, env: NodeJS.ProcessEnv, side: 'daemon' | 'client'): Command {
  const dir = defaultCertDir(env);
  return cmd
    .option('--tls', 'use TLS; implied by --tlsverify (--tls=false: plain TCP, on purpose)')
    .addOption(new Option('--no-tls').hideHelp())
    .option(
      '--tlsverify',
      side === 'daemon'
        ? 'use TLS and require client certificates signed by --tlscacert'
        : "use TLS and verify the daemon's certificate against --tlscacert",
    )
    .addOption(new Option('--no-tlsverify').hideHelp())
    .option('--tlscacert <file>', 'trust certs signed only by this CA', join(dir, 'ca.pem'))
    .option('--tlscert <file>', 'path to TLS certificate file', join(dir, 'cert.pem'))
    .option('--tlskey <file>', 'path to TLS key file', join(dir, 'key.pem'));
}

/**
 * The docker CLI's rules: $DOCKER_TLS_VERIFY (any non-empty value) defaults --tlsverify and
 * $DOCKER_TLS --tls; any --tlsverify turns TLS on; --tls without verification does not check the
 * daemon's certificate. Returns whether TLS is on and whether to verify, files not read.
 */
export function clientTlsMode(o: TlsFlags, env: NodeJS.ProcessEnv): { on: boolean; verify: boolean } {
  const verify = o.tlsverify ?? Boolean(env.DOCKER_TLS_VERIFY);
  return { on: o.tlsverify !== undefined || verify || (o.tls ?? Boolean(env.DOCKER_TLS)), verify };
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(
      `${flag} ${path}: cannot read it: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
    );
  }
}

/**
 * Reads the files: the CA when verifying; the client certificate and key when given, or when the
 * default files exist (as the docker CLI, which sends them if found).
 */
export function loadClientTls(o: TlsFlags, verify: boolean, given: (flag: string) => boolean): ClientTls {
  const withCert = given('tlscert') || given('tlskey') || (existsSync(o.tlscert) && existsSync(o.tlskey));
  return {
    verify,
    ...(verify ? { ca: readFlagFile('--tlscacert', o.tlscacert) } : {}),
    ...(withCert
      ? { cert: readFlagFile('--tlscert', o.tlscert), key: readFlagFile('--tlskey', o.tlskey) }
      : {}),
  };
}
