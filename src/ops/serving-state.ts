// Whether the proxy should receive traffic: the upstream answers its health probe and the proxy is
// not draining. Feeds grpc.health.v1 (Check and Watch), /readyz and the upstream-state metric.
import { HealthImplementation } from 'grpc-health-check';

export class ServingState {
  private upstreamUp = false;
  private draining = false;
  private readonly listeners: ((serving: boolean) => void)[] = [];
  /** The proxy's own grpc.health.v1 implementation; '' is the whole server. */
  readonly health = new HealthImplementation({ '': 'NOT_SERVING' });

  constructor(private readonly serviceNames: readonly string[]) {
    this.publish();
  }

  get serving(): boolean {
    return this.upstreamUp && !this.draining;
  }

  get isUpstreamUp(): boolean {
    return this.upstreamUp;
  }

  setUpstreamUp(up: boolean): void {
    if (up === this.upstreamUp) return;
    this.upstreamUp = up;
    this.publish();
  }

  /** SIGTERM: tell load balancers first, then drain. */
  startDraining(): void {
    this.draining = true;
    this.publish();
  }

  onChange(listener: (serving: boolean) => void): void {
    this.listeners.push(listener);
  }

  private publish(): void {
    const status = this.serving ? 'SERVING' : 'NOT_SERVING';
    for (const name of ['', ...this.serviceNames]) this.health.setStatus(name, status);
    for (const l of this.listeners) l(this.serving);
  }
}
