// Drives one task through its states on this node: ACCEPTED → PREPARING → READY → STARTING →
// RUNNING → COMPLETE | FAILED, or SHUTDOWN when the manager asks. One step at a time; every
// new assignment of the task re-runs the step function (level-triggered).
import { isTerminal, stateOrder, type Assignment, type TaskState, type TaskStatus } from '../../api/index.js';
import { isoTime, type Clock } from '../../platform/index.js';
import type { Controller, ExitInfo } from '../exec/executor.js';
import type { Limiter } from './limit.js';

export type Reporter = (taskId: string, status: TaskStatus) => void;

export class TaskRunner {
  #a: Assignment;
  #ctl: Controller;
  #observed: TaskState;
  #status: TaskStatus;
  #busy = false;
  #again = false;
  #ac = new AbortController();
  #waiting = false;
  #removed = false;
  #recovered = false;

  constructor(
    a: Assignment,
    ctl: Controller,
    private readonly clock: Clock,
    private readonly report: Reporter,
    private readonly log: (msg: string) => void,
    private readonly limiter: Limiter,
  ) {
    this.#a = a;
    this.#ctl = ctl;
    this.#observed = a.task.Status.State;
    this.#status = a.task.Status;
  }

  get serviceId(): string {
    return this.#a.task.ServiceID;
  }

  get taskId(): string {
    return this.#a.task.ID;
  }

  update(a: Assignment): void {
    this.#a = a;
    // The manager's view can only be behind ours, never ahead, except at recovery.
    const theirs = stateOrder(a.task.Status.State);
    if (theirs > stateOrder(this.#observed)) {
      this.#observed = a.task.Status.State;
      this.#status = a.task.Status;
    } else if (theirs < stateOrder(this.#observed)) {
      // Behind: a report of ours was lost (a leader that took it stepped down before writing it).
      // Say it again; the dispatcher ignores what it already has.
      this.report(this.taskId, this.#status);
    }
    this.kick();
  }

  kick(): void {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    void (async () => {
      do {
        this.#again = false;
        try {
          await this.#step();
        } catch (e) {
          // An error while the manager is already stopping the task is not a task failure.
          const d = this.#a.task.DesiredState;
          if (d === 'shutdown' || d === 'remove') this.#again = true;
          else this.#fail(`${(e as Error).message}`, -1);
        }
      } while (this.#again);
      this.#busy = false;
    })();
  }

  #set(state: TaskState, message: string, extra: Partial<TaskStatus> = {}): void {
    this.#observed = state;
    this.#status = {
      Timestamp: isoTime(this.clock.now()),
      State: state,
      Message: message,
      PortStatus: {},
      ...(this.#status.ContainerStatus ? { ContainerStatus: this.#status.ContainerStatus } : {}),
      ...extra,
    };
    this.report(this.taskId, this.#status);
  }

  #fail(err: string, exitCode: number): void {
    if (isTerminal(this.#observed)) return;
    this.#set('failed', 'started', {
      Err: err,
      ContainerStatus: { ...(this.#status.ContainerStatus ?? {}), ExitCode: exitCode },
    });
  }

  #exited(exit: ExitInfo): void {
    if (isTerminal(this.#observed)) return;
    const cs = { ...(this.#status.ContainerStatus ?? {}), PID: 0, ExitCode: exit.exitCode };
    if (exit.err) this.#set('failed', 'started', { Err: exit.err, ContainerStatus: cs });
    else if (exit.exitCode === 0) this.#set('complete', 'finished', { ContainerStatus: cs });
    else
      this.#set('failed', 'started', { Err: `task: non-zero exit (${exit.exitCode})`, ContainerStatus: cs });
  }

  async #step(): Promise<void> {
    const desired = this.#a.task.DesiredState;
    if (desired === 'shutdown' || desired === 'remove') {
      this.#ac.abort();
      if (!isTerminal(this.#observed)) {
        // A runner that has not looked at the engine yet (a restarted agent) may find a container
        // whose start the manager never heard of: stop it too (a missing one is no error).
        if (stateOrder(this.#observed) >= stateOrder('preparing') || !this.#recovered)
          await this.#ctl.shutdown();
        this.#set('shutdown', 'shutdown');
      }
      if (desired === 'remove' && !this.#removed) {
        await this.#ctl.remove();
        this.#removed = true;
      }
      return;
    }
    if (isTerminal(this.#observed)) return;

    // After an agent restart: adopt what the engine has instead of starting over.
    if (!this.#recovered && stateOrder(this.#observed) >= stateOrder('preparing')) {
      this.#recovered = true;
      const r = await this.#ctl.recover();
      if (r.kind === 'missing') {
        if (stateOrder(this.#observed) >= stateOrder('starting'))
          return this.#fail('task: container disappeared while the agent was away', -1);
        this.#observed = 'accepted';
      } else if (r.kind === 'exited') {
        if (stateOrder(this.#observed) >= stateOrder('starting')) return this.#exited(r.exit);
        await this.#ctl.remove();
        this.#observed = 'accepted';
      } else if (r.kind === 'running') {
        if (this.#observed !== 'running') {
          this.#set('running', 'started', {
            ContainerStatus: { ContainerID: r.containerId, PID: r.pid, ExitCode: 0 },
          });
        }
        this.#watchExit();
        return;
      } else {
        this.#observed = 'ready';
      }
    }
    this.#recovered = true;

    if (stateOrder(this.#observed) < stateOrder('accepted')) this.#set('accepted', 'accepted');
    if (this.#observed === 'accepted' || this.#observed === 'preparing') {
      if (this.#observed === 'accepted') this.#set('preparing', 'preparing');
      let id: string;
      try {
        // The pull runs outside the engine limiter: minutes of download hold no create slot.
        await this.#ctl.pull?.();
        // Stopped while pulling: the next step shuts it down without creating a container.
        const now = this.#a.task.DesiredState;
        if (now === 'shutdown' || now === 'remove') return;
        id = await this.limiter.run(() => this.#ctl.prepare());
      } catch (e) {
        // The task could not be set up here (failed pull, no such image, bad mount, ...): it never
        // ran, so it is rejected, as Swarm reports it; the restart supervisor decides whether to
        // try again.
        this.#set('rejected', 'preparing', { Err: (e as Error).message });
        return;
      }
      this.#set('ready', 'prepared', { ContainerStatus: { ContainerID: id } });
    }
    // A delayed restart is prepared but waits for desired RUNNING.
    if (this.#observed === 'ready' && desired === 'ready') return;
    if (this.#observed === 'ready') {
      this.#set('starting', 'starting');
      const { pid, ports } = await this.limiter.run(() => this.#ctl.start());
      this.#status = {
        ...this.#status,
        ContainerStatus: { ...(this.#status.ContainerStatus ?? {}), PID: pid, ExitCode: 0 },
      };
      const unhealthy = await this.#ctl.healthy(this.#ac.signal);
      if (this.#a.task.DesiredState === 'shutdown' || this.#a.task.DesiredState === 'remove') return;
      if (unhealthy) {
        await this.#ctl.terminate();
        return this.#exited(unhealthy);
      }
      // The host ports the engine bound, as Swarm shows them on a running task.
      this.#set('running', 'started', ports?.length ? { PortStatus: { Ports: ports } } : {});
      this.#watchExit();
      return;
    }
    if (this.#observed === 'starting' || this.#observed === 'running') this.#watchExit();
  }

  #watchExit(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.#ctl.wait(this.#ac.signal).then(
      async (exit) => {
        this.#waiting = false;
        const desired = this.#a.task.DesiredState;
        if (desired === 'shutdown' || desired === 'remove') return this.kick();
        if (exit.err) await this.#ctl.terminate().catch(() => undefined);
        this.#exited(exit);
      },
      () => {
        this.#waiting = false;
      },
    );
  }

  /** Stops watching (the task left this node's assignment set). */
  async close(removeContainer: boolean): Promise<void> {
    this.#ac.abort();
    if (removeContainer) {
      await this.#ctl
        .remove()
        .catch((e: unknown) => this.log(`removing container of ${this.taskId}: ${(e as Error).message}`));
    }
  }
}
