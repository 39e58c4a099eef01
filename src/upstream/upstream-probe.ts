// Asks the upstream Qdrant's own health check at a fixed interval, with the proxy's credential.
import { Status } from '../grpc/status.js';
import type { Forwarder } from './forwarder.js';
import { describeOutcome, ownCall } from './own-call.js';

const HEALTH_CHECK = '/qdrant.Qdrant/HealthCheck';
const MAX_REPLY_BYTES = 64 * 1024;

export class UpstreamProbe {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly intervalMs: number,
    private readonly onResult: (up: boolean, detail: string) => void,
  ) {}

  start(): void {
    const tick = async () => {
      const { outcome } = await ownCall(this.forwarder, HEALTH_CHECK, Buffer.alloc(0), Math.min(this.intervalMs, 5000), MAX_REPLY_BYTES);
      const up = outcome.origin === 'upstream' && outcome.status.code === Status.OK;
      this.onResult(up, describeOutcome(outcome));
      if (this.timer !== null) this.timer = setTimeout(() => void tick(), this.intervalMs).unref();
    };
    this.timer = setTimeout(() => void tick(), 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
