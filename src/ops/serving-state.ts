// Whether the proxy should receive traffic: the upstream answers its health probe and the proxy is
// not draining. Feeds grpc.health.v1 (Check and Watch), /readyz and the upstream-state metric.

export class ServingState {
  private upstreamUp = false;
  private draining = false;
  private readonly listeners = new Set<(serving: boolean) => void>();

  /** `serviceNames`: the services health Watch knows (besides '', the whole server). */
  constructor(readonly serviceNames: ReadonlySet<string>) {}

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
    if (this.draining) return;
    this.draining = true;
    this.publish();
  }

  /** Returns a function that removes the listener. */
  onChange(listener: (serving: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish(): void {
    for (const l of this.listeners) l(this.serving);
  }
}
