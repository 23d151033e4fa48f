// Cluster events in the Engine API's /events shape, derived from store changes. A bounded ring
// keeps recent history for `since`; followers get a bounded queue each.
import type { Config, Network, Node, Secret, Service } from '../api/index.js';
import type { MemoryStore, StoreEvent } from '../state/index.js';
import { BoundedQueue } from '../state/index.js';
import type { Clock } from '../platform/index.js';

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'swarm' | 'local';
  time: number;
  timeNano: number;
}

const HISTORY = 1000;

/** Store tables whose changes dockerd reports with the object's name only. */
const NAMED: Record<string, string> = { secrets: 'secret', configs: 'config', networks: 'network' };

export class EventLog {
  #ring: EngineEvent[] = [];
  #followers = new Set<BoundedQueue<EngineEvent>>();
  #unsubscribe: (() => void) | undefined;
  constructor(private readonly clock: Clock) {}

  attach(store: MemoryStore): void {
    this.#unsubscribe = store.subscribe((e) => this.#fromStore(e));
  }

  detach(): void {
    this.#unsubscribe?.();
  }

  #fromStore(e: StoreEvent): void {
    if (e.kind !== 'change') return;
    const { table, action, object } = e.change;
    if (table === 'services') {
      const s = object as Service;
      const attrs: Record<string, string> = { name: s.Spec.Name ?? '' };
      const prev = e.previous as Service | undefined;
      if (action === 'update' && prev) {
        if (prev.Spec.Mode?.Replicated?.Replicas !== s.Spec.Mode?.Replicated?.Replicas) {
          attrs['replicas.old'] = String(prev.Spec.Mode?.Replicated?.Replicas ?? '');
          attrs['replicas.new'] = String(s.Spec.Mode?.Replicated?.Replicas ?? '');
        }
        if (prev.UpdateStatus?.State !== s.UpdateStatus?.State && s.UpdateStatus?.State) {
          attrs['updatestate.old'] = prev.UpdateStatus?.State ?? '';
          attrs['updatestate.new'] = s.UpdateStatus.State;
        }
      }
      this.emit({ Type: 'service', Action: action, id: s.ID, attrs, scope: 'swarm' });
    } else if (table === 'nodes') {
      const n = object as Node;
      const attrs: Record<string, string> = { name: n.Description.Hostname };
      const prev = e.previous as Node | undefined;
      if (action === 'update' && prev) {
        if (prev.Status.State !== n.Status.State) {
          attrs['state.old'] = prev.Status.State;
          attrs['state.new'] = n.Status.State;
        }
        if (prev.Spec.Availability !== n.Spec.Availability) {
          attrs['availability.old'] = prev.Spec.Availability ?? '';
          attrs['availability.new'] = n.Spec.Availability ?? '';
        }
        // Heartbeat-only refreshes are not events.
        if (Object.keys(attrs).length === 1 && JSON.stringify(prev.Spec) === JSON.stringify(n.Spec)) return;
      }
      this.emit({ Type: 'node', Action: action, id: n.ID, attrs, scope: 'swarm' });
    } else if (table in NAMED) {
      // As dockerd's cluster events for these objects: the ID and, as the only attribute, the name.
      const o = object as Secret | Config | Network;
      this.emit({
        Type: NAMED[table]!,
        Action: action,
        id: o.ID,
        attrs: { name: o.Spec.Name },
        scope: 'swarm',
      });
    }
  }

  emit(e: {
    Type: string;
    Action: string;
    id: string;
    attrs: Record<string, string>;
    scope: 'swarm' | 'local';
    timeNano?: number;
  }): void {
    const nanos = e.timeNano ?? this.clock.now() * 1e6;
    const ev: EngineEvent = {
      Type: e.Type,
      Action: e.Action,
      Actor: { ID: e.id, Attributes: e.attrs },
      scope: e.scope,
      time: Math.floor(nanos / 1e9),
      timeNano: nanos,
    };
    this.#ring.push(ev);
    if (this.#ring.length > HISTORY) this.#ring.shift();
    for (const f of this.#followers) {
      f.push(ev);
      if (f.closed) this.#followers.delete(f);
    }
  }

  history(): readonly EngineEvent[] {
    return this.#ring;
  }

  follow(limit = 10_000): BoundedQueue<EngineEvent> {
    const q = new BoundedQueue<EngineEvent>(limit);
    this.#followers.add(q);
    return q;
  }

  unfollow(q: BoundedQueue<EngineEvent>): void {
    this.#followers.delete(q);
    q.close();
  }
}
