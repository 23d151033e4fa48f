// iproute2, run as a child process with a time limit: the plugin's only way into the kernel.
import { execFile } from 'node:child_process';

const IP_TIMEOUT_MS = 10_000;

/** Runs `ip <args>`; rejects with ip's own message on failure. */
export function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Whether a link of that name exists in the daemon's own namespace. */
export async function linkExists(name: string): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}
