// HTTP/2 written by hand on a TCP socket, for what no client library lets a test send: headers
// node:http2 refuses (connection-specific ones), floods, sockets that never speak. Request headers
// are HPACK literals (no compression state); the answer is read as frame types only.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export function h2frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, flags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** Literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v]);
}

/** A gRPC request's header block (pseudo-headers first), plus `extra` headers as given. */
export function grpcHeaderBlock(path: string, extra: readonly [string, string][] = []): Buffer {
  const base: [string, string][] = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ];
  return Buffer.concat([...base, ...extra].map(([n, v]) => hpackLiteral(n, v)));
}

/** The 5-byte gRPC prefix and the message, optionally flagged compressed. */
export function grpcMessage(payload: Buffer, compressedFlag = 0): Buffer {
  const prefix = Buffer.from([compressedFlag, 0, 0, 0, 0]);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

export interface RawExchange {
  /** Types of the frames the server sent on stream `stream` (or 0 for connection frames). */
  readonly frames: { type: number; stream: number; flags: number }[];
  /** The GOAWAY error code, when the server sent one. */
  readonly goaway: number | null;
}

/**
 * Connects, sends the preface, SETTINGS and `frames`, reads until `until` says enough (or `holdMs`),
 * then closes. Frames the server sends are parsed for their type and stream only.
 */
export function exchange(
  port: number,
  frames: readonly Buffer[],
  options: { holdMs?: number; until?: (x: RawExchange) => boolean } = {},
): Promise<RawExchange> {
  const { holdMs = 2000, until } = options;
  return new Promise((resolve) => {
    const result: RawExchange & { frames: RawExchange['frames']; goaway: number | null } = { frames: [], goaway: null };
    let pending = Buffer.alloc(0);
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(PREFACE);
      socket.write(h2frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)));
      for (const f of frames) if (!socket.destroyed) socket.write(f);
    });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(finish, holdMs);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3]!;
        const flags = pending[4]!;
        const stream = pending.readUInt32BE(5) & 0x7fffffff;
        if (type === FRAME.GOAWAY) result.goaway = pending.readUInt32BE(9 + 4);
        if (type === FRAME.SETTINGS && !(flags & 1)) socket.write(h2frame(FRAME.SETTINGS, 1, 0, Buffer.alloc(0))); // ACK
        result.frames.push({ type, stream, flags });
        pending = pending.subarray(9 + length);
      }
      if (until?.(result)) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

/** One gRPC call on stream 1: headers (with `extra`), then the body, ending the stream. */
export function rawCall(port: number, path: string, extra: readonly [string, string][], body: Buffer = grpcMessage(Buffer.alloc(0))): Promise<RawExchange> {
  const frames = [h2frame(FRAME.HEADERS, END_HEADERS, 1, grpcHeaderBlock(path, extra)), h2frame(FRAME.DATA, END_STREAM, 1, body)];
  // Done when the server ended stream 1 (END_STREAM on a frame, or RST_STREAM) or sent GOAWAY.
  return exchange(port, frames, {
    until: (x) => x.goaway !== null || x.frames.some((f) => f.stream === 1 && (f.type === FRAME.RST_STREAM || f.flags & END_STREAM)),
  });
}

export const FLAGS = { END_STREAM, END_HEADERS } as const;

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
