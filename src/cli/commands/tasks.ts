// The task table `node ps` and `service ps` print, as docker prints it.
import type { Node, Service, Task } from '../../api/index.js';
import type { Client } from '../client.js';
import { ago, cap, table } from '../text.js';

export async function taskTable(c: Client, tasks: Task[]): Promise<string> {
  const services = new Map<string, string>();
  const nodes = new Map((await c.call<Node[]>('GET', '/nodes')).map((n) => [n.ID, n.Description.Hostname]));
  for (const t of tasks)
    if (!services.has(t.ServiceID))
      services.set(
        t.ServiceID,
        (await c.call<Service>('GET', `/services/${t.ServiceID}`).catch(() => undefined))?.Spec.Name ??
          t.ServiceID,
      );
  const rows = [['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR']];
  const sorted = [...tasks].sort(
    (a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || b.CreatedAt.localeCompare(a.CreatedAt),
  );
  let prevKey = '';
  for (const t of sorted) {
    const key = `${t.ServiceID}.${t.Slot ?? t.NodeID}`;
    const name = `${services.get(t.ServiceID)}.${t.Slot ?? t.NodeID}`;
    rows.push([
      t.ID.slice(0, 12),
      key === prevKey ? ` \\_ ${name}` : name,
      t.Spec.ContainerSpec?.Image ?? '',
      nodes.get(t.NodeID ?? '') ?? '',
      cap(t.DesiredState),
      `${cap(t.Status.State)} ${ago(t.Status.Timestamp)}`,
      t.Status.Err ? `"${t.Status.Err}"` : '',
    ]);
    prevKey = key;
  }
  return table(rows);
}
