// Getting a task's image onto the node before its container is created. The policy follows
// Swarm's executor where it skips a pull (an image ID; a digest the engine has) and pulls the
// mutable `latest` (or no tag) every time, so such a service follows its tag; any other tag is
// pulled only when the engine lacks it. A failed pull with a local copy goes on with that copy
// (a registry that is down does not stop a service); with none the pull's error is the task's.
import type { IncomingMessage } from 'node:http';
import { HttpStatusError } from '../../../api/index.js';
import type { DockerEngine } from './engine.js';

/** An image reference split as the engine's pull endpoint takes it. */
export interface ImageRef {
  /** Registry host (if any) and repository, without tag or digest. */
  name: string;
  tag?: string;
  digest?: string;
  /** `sha256:<hex>`: an image ID, never pulled. */
  id: boolean;
}

const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

export function parseImageRef(image: string): ImageRef {
  if (IMAGE_ID.test(image)) return { name: image, id: true };
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  let name = at >= 0 ? image.slice(0, at) : image;
  let tag: string | undefined;
  // A colon after the last slash is a tag's; one before it is a registry port's.
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return { name, id: false, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** When to pull: 'always' (latest or untagged), 'missing' (only if the engine lacks it) or 'never'. */
export function pullPolicy(ref: ImageRef): 'always' | 'missing' | 'never' {
  if (ref.id) return 'never';
  if (ref.digest) return 'missing';
  return ref.tag === undefined || ref.tag === 'latest' ? 'always' : 'missing';
}

export interface PullOptions {
  /** X-Registry-Auth for the registry, as the client sent it. Never logged. */
  auth?: string;
  log?: (msg: string) => void;
  /** The longest a pull may take before it counts as failed. */
  timeoutMs?: number;
}

/** A pull that takes longer than this fails (the engine may still finish it for a later try). */
export const DEFAULT_PULL_TIMEOUT_MS = 15 * 60_000;

/** The bytes of progress kept while reading (one JSON line); a longer line is skipped. */
const MAX_LINE = 64 * 1024;

/** The node's pulls: one at a time per image and credentials, shared by the tasks that wait for it. */
export class ImagePuller {
  #inflight = new Map<string, Promise<void>>();

  constructor(private readonly engine: Pick<DockerEngine, 'inspectImage' | 'pullImage'>) {}

  /** Makes sure the engine has `image` under the policy; rejects with a task error if it cannot. */
  async ensure(image: string, o: PullOptions = {}): Promise<void> {
    // No image: nothing to pull (creating the container says what is wrong).
    if (image === '') return;
    const ref = parseImageRef(image);
    const policy = pullPolicy(ref);
    if (policy === 'never') return;
    const present = await this.#present(image);
    if (present && policy === 'missing') return;
    const key = `${image}\0${o.auth ?? ''}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#pull(ref, o).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    try {
      await p;
    } catch (e) {
      if (!present) throw e;
      o.log?.(`pulling image ${image} failed, using the local copy: ${(e as Error).message}`);
    }
  }

  async #present(image: string): Promise<boolean> {
    try {
      await this.engine.inspectImage(image);
      return true;
    } catch (e) {
      if (e instanceof HttpStatusError && e.status === 404) return false;
      throw e;
    }
  }

  async #pull(ref: ImageRef, o: PullOptions): Promise<void> {
    const tag = ref.digest ?? ref.tag ?? 'latest';
    const shown = `${ref.name}${ref.digest ? '@' : ':'}${tag}`;
    const timeoutMs = o.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
    let res: IncomingMessage | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      res?.destroy();
    }, timeoutMs);
    try {
      res = await this.engine.pullImage(ref.name, tag, o.auth).catch((e: unknown) => {
        throw new Error(`pulling ${shown}: ${messageOf(e)}`);
      });
      if (timedOut) res.destroy();
      const err = await lastError(res).catch((e: unknown) => {
        throw new Error(
          timedOut
            ? `pulling ${shown}: no result after ${Math.round(timeoutMs / 1000)} s`
            : `pulling ${shown}: ${(e as Error).message}`,
        );
      });
      if (err) throw new Error(`pulling ${shown}: ${err}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The engine's message without the executor's "(HTTP code N)" prefix (the pull error says enough). */
function messageOf(e: unknown): string {
  return (e as Error).message.replace(/^\(HTTP code \d+\) /, '');
}

/** Reads a pull's progress stream to its end; the error its last error line names, if any. */
async function lastError(res: IncomingMessage): Promise<string | undefined> {
  let buf = '';
  let err: string | undefined;
  const take = (line: string): void => {
    if (!line.trim()) return;
    try {
      const m = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      const e = m.errorDetail?.message ?? m.error;
      if (e) err = e;
    } catch {
      /* a line that is not JSON is progress we do not need */
    }
  };
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      take(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    if (buf.length > MAX_LINE) buf = '';
  }
  take(buf);
  if (!res.complete) throw new Error('the engine closed the pull before it finished');
  return err;
}
