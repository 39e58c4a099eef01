import { describe, expect, it } from 'vitest';
import { FrameReader } from '../../src/upstream/h2-forwarder.js';

function frame(payload: Buffer, flag = 0): Buffer {
  const head = Buffer.from([flag, 0, 0, 0, 0]);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

describe('FrameReader (gRPC messages from HTTP/2 data chunks)', () => {
  const messages = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('last message')];
  const body = Buffer.concat(messages.map((m) => frame(m)));

  for (const chunkSize of [1, 3, 5, 16_384, body.length]) {
    it(`reassembles messages from ${chunkSize}-byte chunks`, () => {
      const reader = new FrameReader(1 << 20);
      const out: Buffer[] = [];
      for (let i = 0; i < body.length; i += chunkSize) out.push(...reader.push(body.subarray(i, i + chunkSize)));
      expect(out.map((b) => b.toString('hex'))).toEqual(messages.map((m) => m.toString('hex')));
      expect(reader.pending).toBe(false);
    });
  }

  it('reports a partial message as pending', () => {
    const reader = new FrameReader(100);
    expect(reader.push(frame(Buffer.from('abcdef')).subarray(0, 7))).toEqual([]);
    expect(reader.pending).toBe(true);
  });

  it('refuses compressed and oversized messages', () => {
    expect(() => new FrameReader(100).push(frame(Buffer.from('x'), 1))).toThrow(/compressed/);
    expect(() => new FrameReader(100).push(frame(Buffer.alloc(101)))).toThrow(/larger than limits.max_message_bytes/);
  });
});
