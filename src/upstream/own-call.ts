// Calls of the proxy's own (value_exists look-ups, the health probe): the upstream credential only,
// their own deadline, the reply collected whole.
import { MessageReader } from '../grpc/framing.js';
import type { GrpcStatus } from '../grpc/status.js';
import { Status } from '../grpc/status.js';
import type { Forwarder, UpstreamOutcome } from './forwarder.js';

export interface OwnReply {
  readonly outcome: UpstreamOutcome;
  /** The reply message, when the call succeeded. */
  readonly message: Buffer | null;
}

export async function ownCall(forwarder: Forwarder, path: string, message: Buffer, timeoutMs: number, maxBytes: number): Promise<OwnReply> {
  const messages: Buffer[] = [];
  const reader = new MessageReader((_flag, length) => {
    if (length > maxBytes) throw new Error(`reply of ${length} bytes`);
  });
  let failure: string | null = null;
  const outcome = await forwarder.forward(
    { path, kind: 'unary', message, metadata: null, deadline: Date.now() + timeoutMs, signal: null },
    {
      sendHeaders: () => undefined,
      write: (chunk) => {
        try {
          for (const m of reader.push(chunk)) messages.push(m.payload);
        } catch (err) {
          failure = (err as Error).message;
        }
        return true;
      },
      onDrain: () => undefined,
    },
  );
  if (failure !== null) return { outcome: { status: { code: Status.RESOURCE_EXHAUSTED, details: '' }, origin: 'local', detail: failure }, message: null };
  const ok = outcome.status.code === Status.OK;
  return { outcome, message: ok ? (messages[0] ?? null) : null };
}

/** What a failed own call was, for the log. */
export function describeOutcome(outcome: UpstreamOutcome): string {
  const status: GrpcStatus = outcome.status;
  return `${Status[status.code]}: ${outcome.origin === 'local' ? outcome.detail : status.details}`;
}
