// Request decompression as Qdrant's tonic does it (flate2's GzDecoder): one gzip member, checked
// against its CRC-32 and length; bytes after that member are ignored. The output is capped: past
// `maxOutput` the work stops and the call is refused, so a small compressed message cannot turn
// into a large one in memory.
import { crc32, inflateRaw } from 'node:zlib';

export class GzipError extends Error {
  constructor(
    readonly reason: 'too_large' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
const RESERVED = 0xe0;

export function gunzipMember(data: Buffer, maxOutput: number): Promise<Buffer> {
  let body: Buffer;
  try {
    body = data.subarray(headerLength(data));
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    inflateRaw(body, { info: true, maxOutputLength: Math.max(1, maxOutput) }, (err, result) => {
      if (err) {
        const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        return reject(tooLarge ? new GzipError('too_large', `decompressed size over ${maxOutput} bytes`) : new GzipError('corrupt', err.message));
      }
      const { buffer, engine } = result as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      const trailer = body.subarray(engine.bytesWritten, engine.bytesWritten + 8);
      if (trailer.length < 8) return reject(new GzipError('corrupt', 'gzip member ends without its trailer'));
      if (trailer.readUInt32LE(0) !== crc32(buffer) >>> 0 || trailer.readUInt32LE(4) !== buffer.length % 2 ** 32) {
        return reject(new GzipError('corrupt', 'gzip checksum or length mismatch'));
      }
      resolve(buffer);
    });
  });
}

/** The length of the gzip member header (RFC 1952 §2.3); throws when it is not one. */
function headerLength(data: Buffer): number {
  const bad = (what: string) => new GzipError('corrupt', `invalid gzip header: ${what}`);
  if (data.length < 10 || data[0] !== 0x1f || data[1] !== 0x8b) throw bad('magic');
  if (data[2] !== 8) throw bad('compression method');
  const flags = data[3]!;
  if (flags & RESERVED) throw bad('reserved flags');
  let at = 10;
  if (flags & FEXTRA) {
    if (data.length < at + 2) throw bad('truncated');
    at += 2 + data.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const end = data.indexOf(0, at);
    if (end < 0) throw bad('truncated');
    at = end + 1;
  }
  if (flags & FHCRC) at += 2;
  if (at > data.length) throw bad('truncated');
  return at;
}
