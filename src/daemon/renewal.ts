// Certificate renewal: a node renews its certificate at a random point between 50% and 80% of its
// life, and soon (at a random moment, so nodes spread out) when the cluster moves its trust in a
// root rotation. The leader issues certificates (issuing records the node's TLS info); a leading
// manager signs its own.
import type { TlsTarget } from '../api/index.js';
import { createKeyAndCsr, identityOf, renewalDelayMs, signedByRoot } from '../ca/index.js';
import type { NodeCA } from '../manager/index.js';
import { isoTime, type Cancel, type Clock } from '../platform/index.js';
import type { TlsMaterial } from '../transport/index.js';
import { renewCertificate } from './certs.js';
import type { NodeFile } from './nodefile.js';

const RENEW_RETRY_MS = 60_000;
/** Nodes renew within this long of learning of a root rotation. */
const ROTATION_SPREAD_MS = 1000;

/** What renewal reads of its node, as it is at each step. */
export interface RenewalHost {
  clock: Clock;
  node(): NodeFile | undefined;
  tls(): TlsMaterial | undefined;
  /** The manager's CA while this manager leads. */
  leaderCA(): NodeCA | undefined;
  /** The manager to ask for a certificate otherwise: the leader, or any manager known. */
  issuer(): string;
  /** Saves and serves the new certificate; false when the node has changed meanwhile. */
  install(next: TlsMaterial, forNode: NodeFile): Promise<boolean>;
  log(level: 'info' | 'warn', msg: string): void;
}

export class CertRenewal {
  #timer: Cancel | undefined;
  #renewing = false;
  #target: TlsTarget | undefined;

  constructor(private readonly host: RenewalHost) {}

  /** Renews this node's certificate at a random point between 50% and 80% of its life. */
  schedule(): void {
    this.#timer?.();
    const { clock } = this.host;
    const id = identityOf(this.host.tls()!.certPem);
    // Months away: the clock's timer takes any delay.
    this.#timer = clock.setTimer(renewalDelayMs(id, clock.now(), Math.random), () => void this.#renew());
  }

  /** The cluster moved its trust (root rotation): renew soon, at a random moment so nodes spread out. */
  onTlsTarget(t: TlsTarget): void {
    this.#target = t;
    const tls = this.host.tls();
    if (this.#renewing || !tls || (tls.rootsPem === t.rootsPem && signedByRoot(tls.certPem, t.issuerPem)))
      return;
    this.#timer?.();
    this.#timer = this.host.clock.setTimer(Math.random() * ROTATION_SPREAD_MS, () => void this.#renew());
  }

  /** Stops the timer (the node is deactivating). */
  cancel(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  async #renew(): Promise<void> {
    const { host } = this;
    const node = host.node();
    const tls = host.tls();
    if (!node || !tls || this.#renewing) return;
    this.#renewing = true;
    try {
      let next: TlsMaterial;
      const ca = host.leaderCA();
      if (ca) {
        const { keyPem, csrPem } = await createKeyAndCsr();
        const certPem = await ca.sign(csrPem, { nodeId: node.nodeId, role: 'manager' });
        next = { rootsPem: ca.target().rootsPem, certPem, keyPem };
      } else {
        next = await renewCertificate(host.issuer(), tls);
      }
      // The node changed meanwhile (a role change, a leave): this certificate is not for it, and
      // the next node's schedule renews afresh, so this renewal must not stay marked as running.
      if (!(await host.install(next, node))) {
        this.#renewing = false;
        return;
      }
      host.log(
        'info',
        `renewed the node certificate (valid until ${isoTime(identityOf(next.certPem).notAfter)})`,
      );
      this.#renewing = false;
      this.schedule();
      // The target may have moved while this renewal ran (a rotation finishing): catch up.
      if (this.#target) this.onTlsTarget(this.#target);
    } catch (e) {
      this.#renewing = false;
      host.log('warn', `certificate renewal failed: ${(e as Error).message}; retrying in a minute`);
      this.#timer = host.clock.setTimer(RENEW_RETRY_MS, () => void this.#renew());
    }
  }
}
