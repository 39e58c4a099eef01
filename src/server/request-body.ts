// Reading a call's request body: gRPC messages off the HTTP/2 stream, each checked as tonic checks it
// (compressed flag, encoding) and against the proxy's bounds before its bytes are kept: message size,
// the memory budget (reserved when the prefix arrives), the decompression cap and ratio, the body
// timeout. Only admitted calls get here (src/chain/call-runner.ts).
import type { ServerHttp2Stream } from 'node:http2';
import { ProxyError } from '../errors.js';
import { MessageReader, type RawMessage } from '../grpc/framing.js';
import { GzipError, gunzipMember } from '../grpc/gzip.js';
import type { Reservation } from './budget.js';

/** The encodings a client may compress requests with, as Qdrant accepts them (gzip only). */
export const ACCEPT_ENCODING = 'gzip,identity';

export interface BodyLimits {
  /** Decompressed size may be at most this many times the compressed size. */
  readonly maxDecompressionRatio: number;
  readonly requestBodyTimeoutMs: number;
}

export interface BodyReading {
  /** The call's grpc-encoding ('identity' when it sent none). */
  readonly encoding: string;
  readonly maxBytes: number;
  /** More messages than this is refused (1 for unary and server-streaming methods). */
  readonly maxMessages: number;
  /** Where the call's held bytes are counted. */
  readonly bytes: Reservation;
  readonly limits: BodyLimits;
}

/** Cancellation, as the call reports it. */
interface Cancellable {
  onCancel(listener: () => void): () => void;
}

/**
 * Reads request messages until the client half-closes, each through `onMessage` in order. The body
 * timer runs from the first read to the end of the request.
 */
export function readRequestBody(
  stream: ServerHttp2Stream,
  call: Cancellable,
  reading: BodyReading,
  onMessage: (payload: Buffer) => void | Promise<void>,
): Promise<void> {
  const { encoding, maxBytes, maxMessages, bytes, limits } = reading;
  if (encoding !== 'identity' && encoding !== 'gzip') {
    return Promise.reject(new ProxyError('unsupported_encoding', { detail: encoding, trailers: { 'grpc-accept-encoding': ACCEPT_ENCODING } }));
  }
  return new Promise<void>((resolve, reject) => {
    let count = 0;
    let queue: Promise<void> = Promise.resolve();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      cleanup();
      stream.pause();
      reject(err);
    };
    const reader = new MessageReader((flag, length) => {
      if (++count > maxMessages) throw new ProxyError('extra_request_message');
      if (flag === 1 && encoding === 'identity') throw new ProxyError('compressed_flag_without_encoding');
      if (flag > 1) throw new ProxyError('invalid_compression_flag', { detail: String(flag) });
      if (length > maxBytes) throw new ProxyError('message_too_large', { detail: `${length} > ${maxBytes} bytes` });
      if (!bytes.take(length)) throw new ProxyError('request_budget_exhausted');
    });
    const onData = (chunk: Buffer) => {
      let arrived: RawMessage[];
      try {
        arrived = reader.push(chunk);
      } catch (err) {
        return fail(err);
      }
      for (const message of arrived) {
        queue = queue.then(async () => {
          if (failed) return;
          const payload = message.flag === 1 ? await decompress(message.payload, maxBytes, limits.maxDecompressionRatio, bytes) : message.payload;
          await onMessage(payload);
        });
        queue.catch(fail);
      }
    };
    const onEnd = () => {
      if (reader.pending) return fail(new ProxyError('unexpected_eof'));
      cleanup();
      queue.then(resolve, fail);
    };
    const bodyTimer = setTimeout(() => fail(new ProxyError('request_body_timeout')), limits.requestBodyTimeoutMs);
    const removeCancel = call.onCancel(() => fail(new ProxyError('cancelled')));
    const cleanup = () => {
      clearTimeout(bodyTimer);
      removeCancel();
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    if (stream.readableEnded) onEnd();
  });
}

/** One gzip message, within the size limit and the decompression ratio, under the memory budget. */
async function decompress(compressed: Buffer, maxBytes: number, ratio: number, bytes: Reservation): Promise<Buffer> {
  const allowance = Math.min(maxBytes, compressed.length * ratio);
  if (!bytes.take(allowance)) throw new ProxyError('request_budget_exhausted');
  try {
    const out = await gunzipMember(compressed, allowance);
    bytes.giveBack(allowance - out.length + compressed.length);
    return out;
  } catch (err) {
    if (err instanceof GzipError && err.reason === 'too_large') throw new ProxyError('decompressed_too_large', { detail: String(allowance) });
    throw new ProxyError('decompress_failed', { detail: err instanceof Error ? err.message : String(err) });
  }
}
