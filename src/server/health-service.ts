// grpc.health.v1, answered by the proxy itself without credentials: SERVING while the upstream
// answers and the proxy is not draining. Check ignores the service name, as Qdrant's does; Watch
// (beyond Qdrant, which does not implement it) follows the state for '' and the served services,
// capped at limits.max_health_watch_streams streams at once, since anyone may open one.
import { ProxyError } from '../errors.js';
import { MessageWriter, readFields, stringField } from '../grpc/protobuf.js';
import { Status } from '../grpc/status.js';
import type { ServingState } from '../ops/serving-state.js';
import type { ClientCall } from './server-call.js';

export const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
export const HEALTH_WATCH = '/grpc.health.v1.Health/Watch';

const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

export interface HealthLimits {
  readonly maxRequestBytes: number;
  readonly maxWatchers: number;
}

export class HealthService {
  /** Open Watch streams, each with what ends its wait. */
  private readonly watchers = new Map<ClientCall, () => void>();

  constructor(
    private readonly state: ServingState,
    private readonly limits: () => HealthLimits,
  ) {}

  async check(call: ClientCall): Promise<void> {
    await call.readRequest(this.limits().maxRequestBytes);
    call.sendMessage(response(this.state.serving ? SERVING : NOT_SERVING));
    call.end({ code: Status.OK, details: '' });
  }

  async watch(call: ClientCall): Promise<void> {
    const request = await call.readRequest(this.limits().maxRequestBytes);
    let service: string;
    try {
      service = stringField(readFields(request), 1);
    } catch {
      throw new ProxyError('malformed_request');
    }
    if (this.watchers.size >= this.limits().maxWatchers) throw new ProxyError('health_watchers_exhausted');
    const known = service === '' || this.state.serviceNames.has(service);
    const send = (serving: boolean) => call.sendMessage(response(!known ? SERVICE_UNKNOWN : serving ? SERVING : NOT_SERVING));
    send(this.state.serving);
    const stop = known ? this.state.onChange(send) : () => undefined;
    await new Promise<void>((resolve) => {
      this.watchers.set(call, resolve);
      call.onCancel(resolve);
    });
    stop();
    this.watchers.delete(call);
  }

  /** Shutting down: Watch streams end (they would otherwise hold the drain until its timeout). */
  close(): void {
    for (const [call, done] of this.watchers) {
      call.end({ code: Status.UNAVAILABLE, details: 'the proxy is shutting down' });
      done();
    }
  }
}

function response(status: number): Buffer {
  return new MessageWriter().varint(1, status).finish();
}
