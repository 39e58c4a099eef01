// Asks the upstream Qdrant's own health check at a fixed interval, with the proxy's credential.
import { status as Status } from '@grpc/grpc-js';
import type { Forwarder } from './forward.js';

const HEALTH_CHECK = '/qdrant.Qdrant/HealthCheck';

export class UpstreamProbe {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly intervalMs: number,
    private readonly onResult: (up: boolean, detail: string) => void,
  ) {}

  start(): void {
    const tick = async () => {
      const reply = await this.forwarder.ownCall(HEALTH_CHECK, Buffer.alloc(0), Math.min(this.intervalMs, 5000));
      this.onResult(reply.status.code === Status.OK, reply.status.original);
      if (this.timer !== null) this.timer = setTimeout(() => void tick(), this.intervalMs).unref();
    };
    this.timer = setTimeout(() => void tick(), 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
