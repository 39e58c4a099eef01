import { describe, expect, it } from 'vitest';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { clientHeaders, upstreamHeaders } from '../../src/upstream/outgoing-metadata.js';

describe('what crosses the hop', () => {
  it("upstream: the caller's metadata minus credentials, connection-specific and transport headers; repeats kept", () => {
    const metadata = RequestMetadata.fromRawHeaders([
      ':path',
      '/qdrant.Points/Search',
      'content-type',
      'application/grpc',
      'grpc-timeout',
      '5S',
      'api-key',
      'secret',
      'authorization',
      'Bearer t',
      'x-custom',
      'a',
      'x-custom',
      'b',
      'x-trace-bin',
      'AAE',
      'connection',
      'close',
      'http2-settings',
      'AA',
      'te',
      'gzip',
      'host',
      'h',
      'user-agent',
      'ua',
      'age',
      '1',
      'age',
      '2',
    ]);
    expect(upstreamHeaders(metadata, null)).toEqual({ 'x-custom': ['a', 'b'], 'x-trace-bin': 'AAE', age: '1' });
    expect(upstreamHeaders(metadata, 'upstream-key')['api-key']).toBe('upstream-key');
    expect(upstreamHeaders(null, null)).toEqual({});
  });

  it("back to the client: the upstream's headers minus pseudo, transport and connection-specific ones", () => {
    expect(
      clientHeaders([
        ':status',
        '200',
        'content-type',
        'application/grpc',
        'grpc-status',
        '0',
        'grpc-message',
        'm',
        'x-r',
        '1',
        'x-r',
        '2',
        'keep-alive',
        'x',
        'etag',
        'a',
        'etag',
        'b',
      ]),
    ).toEqual({
      'x-r': ['1', '2'],
      etag: 'a',
    });
  });
});
