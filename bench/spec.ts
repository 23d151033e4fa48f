// The service every container bench creates: busybox sleeping, restart delay 0, stop by SIGKILL
// with a 1 s grace period, so runs measure starting and replacing, not stopping.
export function benchServiceSpec(name: string, replicas: number): Record<string, unknown> {
  return {
    Name: name,
    Mode: { Replicated: { Replicas: replicas } },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox:local',
        Args: ['sleep', '3600'],
        StopGracePeriod: 1e9,
        StopSignal: 'SIGKILL',
      },
      RestartPolicy: { Condition: 'any', Delay: 0 },
    },
  };
}
