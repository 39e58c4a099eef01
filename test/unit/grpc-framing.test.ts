import { describe, expect, it } from 'vitest';
import { frame, MessageReader, MessageScanner } from '../../src/grpc/framing.js';

const flagged = (payload: Buffer, flag: number) => Buffer.concat([Buffer.from([flag]), frame(payload).subarray(1)]);

describe('gRPC message framing', () => {
  const messages = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('last message')];
  const body = Buffer.concat(messages.map((m) => frame(m)));

  for (const chunkSize of [1, 3, 5, 16_384, body.length]) {
    it(`the reader reassembles messages from ${chunkSize}-byte chunks; the scanner counts them`, () => {
      const reader = new MessageReader(() => undefined);
      const scanner = new MessageScanner(() => undefined);
      const out: Buffer[] = [];
      for (let i = 0; i < body.length; i += chunkSize) {
        const chunk = body.subarray(i, i + chunkSize);
        out.push(...reader.push(chunk).map((m) => m.payload));
        scanner.scan(chunk);
      }
      expect(out.map((b) => b.toString('hex'))).toEqual(messages.map((m) => m.toString('hex')));
      expect(reader.pending).toBe(false);
      expect([scanner.messages, scanner.pending]).toEqual([messages.length, false]);
    });
  }

  it('reports a partial message or prefix as pending', () => {
    const reader = new MessageReader(() => undefined);
    expect(reader.push(frame(Buffer.from('abcdef')).subarray(0, 7))).toEqual([]);
    expect(reader.pending).toBe(true);
    const scanner = new MessageScanner(() => undefined);
    scanner.scan(frame(Buffer.from('abc')).subarray(0, 3));
    expect(scanner.pending).toBe(true);
  });

  it('shows each prefix (flag and length) before the bytes are kept, and a throw stops the reading', () => {
    const seen: [number, number][] = [];
    const reader = new MessageReader((flag, length) => {
      seen.push([flag, length]);
      if (length > 100) throw new Error('too large');
    });
    expect(reader.push(flagged(Buffer.from('x'), 1))).toEqual([{ flag: 1, payload: Buffer.from('x') }]);
    expect(() => reader.push(frame(Buffer.alloc(101)).subarray(0, 5))).toThrow('too large');
    expect(seen).toEqual([
      [1, 1],
      [0, 101],
    ]);
  });
});
