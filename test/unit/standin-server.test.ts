// The stand-in upstream over gRPC (NOT Qdrant): wiring, recording, overrides, large replies.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedApi } from '../../src/access/compile-rules.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { type Standin, startStandin } from '../../src/standin/standin-server.js';

const api = servedApi(loadQdrantApi());
const identity = (b: Buffer): Buffer => b;

let standin: Standin;
let client: grpc.Client;

beforeAll(async () => {
  standin = await startStandin();
  client = new grpc.Client(`127.0.0.1:${standin.port}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
});

afterAll(async () => {
  client.close();
  await standin.close();
});

function rawCall(path: string, body: Buffer, metadata = new grpc.Metadata()): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, identity, identity, body, metadata, (err, reply) => (err ? reject(err) : resolve(reply!)));
  });
}

async function call(path: string, request: object, metadata?: grpc.Metadata): Promise<Record<string, unknown> & { bytes: number }> {
  const method = api.methods.get(path)!;
  const reply = await rawCall(path, method.request!.encode(request), metadata);
  return { ...method.response!.decode(reply), bytes: reply.length };
}

async function statusOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected an error status');
}

describe('stand-in upstream server', () => {
  it('answers both health checks', async () => {
    expect(await call('/qdrant.Qdrant/HealthCheck', {})).toMatchObject({ title: 'qdrant - vector search engine (stand-in)', version: '1.19.0' });
    expect(await rawCall('/grpc.health.v1.Health/Check', Buffer.alloc(0))).toEqual(Buffer.from([0x08, 0x01]));
  });

  it('creates and describes collections, with Qdrant-like errors, and records metadata', async () => {
    const md = new grpc.Metadata();
    md.set('x-test', 'yes');
    const created = await call('/qdrant.Collections/Create', { collection_name: 'people', vectors_config: { params: { size: 3, distance: 'Dot' } } }, md);
    expect(created).toMatchObject({ result: true });
    expect(typeof created.time).toBe('number');
    const last = standin.calls.at(-1)!;
    expect(last.path).toBe('/qdrant.Collections/Create');
    expect(last.metadata.get('x-test')).toEqual(['yes']);
    expect(api.methods.get(last.path)!.request!.decode(last.request)).toMatchObject({ collection_name: 'people' });

    const again = await statusOf(call('/qdrant.Collections/Create', { collection_name: 'people', vectors_config: { params: { size: 3, distance: 'Dot' } } }));
    expect(again).toMatchObject({ code: grpc.status.ALREADY_EXISTS, details: 'Wrong input: Collection `people` already exists!' });
    const missing = await statusOf(call('/qdrant.Collections/Get', { collection_name: 'nobody' }));
    expect(missing).toMatchObject({ code: grpc.status.NOT_FOUND, details: "Not found: Collection `nobody` doesn't exist!" });

    const info = await call('/qdrant.Collections/Get', { collection_name: 'people' });
    expect(info.result).toMatchObject({
      status: 'Green',
      points_count: '0',
      config: { params: { vectors_config: { params: { size: '3', distance: 'Dot' } } } },
    });
    expect(await call('/qdrant.Collections/CollectionExists', { collection_name: 'people' })).toMatchObject({ result: { exists: true } });
  });

  it('upserts, filters and searches over gRPC', async () => {
    await call('/qdrant.Points/Upsert', {
      collection_name: 'people',
      wait: true,
      points: [
        { id: { num: 1 }, vectors: { vector: { dense: { data: [1, 0, 0] } } }, payload: [{ key: 'team', value: { string_value: 'red' } }] },
        {
          id: { uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
          vectors: { vector: { data: [0, 1, 0] } },
          payload: [{ key: 'team', value: { string_value: 'blue' } }],
        },
      ],
    });
    const filter = { must: [{ field: { key: 'team', match: { keyword: 'blue' } } }] };
    const scrolled = await call('/qdrant.Points/Scroll', { collection_name: 'people', limit: 1, filter });
    expect(scrolled.result).toEqual([
      expect.objectContaining({
        id: expect.objectContaining({ uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }),
        payload: [expect.objectContaining({ key: 'team' })],
      }),
    ]);
    const found = await call('/qdrant.Points/Search', { collection_name: 'people', vector: [1, 0.1, 0], limit: 1, with_vectors: { enable: true } });
    expect(found.result).toEqual([
      expect.objectContaining({
        id: expect.objectContaining({ num: '1' }),
        score: 1,
        vectors: expect.objectContaining({ vector: expect.objectContaining({ dense: { data: [1, 0, 0] } }) }),
      }),
    ]);
    expect((found.result as { payload?: unknown }[])[0]!.payload).toBeUndefined(); // Search: no payload unless asked
    const queried = await call('/qdrant.Points/Query', {
      collection_name: 'people',
      query: { nearest: { dense: { data: [0, 1, 0] } } },
      with_payload: { enable: true },
    });
    expect((queried.result as { id: { uuid?: string } }[]).map((p) => p.id.uuid ?? 'num')).toEqual(['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'num']);
    expect(await call('/qdrant.Points/Count', { collection_name: 'people', filter })).toMatchObject({ result: { count: '1' } });
  });

  it('answers other methods with empty replies (raw bytes for StorageRead, no messages for streams)', async () => {
    expect(await call('/qdrant.Snapshots/ListFull', {})).toMatchObject({ bytes: expect.any(Number) });
    expect(await rawCall('/qdrant.StorageRead/ListFiles', Buffer.from([0x0a, 0x01, 0x61]))).toEqual(Buffer.alloc(0));
    const messages: Buffer[] = [];
    const stream = client.makeServerStreamRequest('/qdrant.StorageRead/ReadBytesStream', identity, identity, Buffer.alloc(0));
    stream.on('data', (m: Buffer) => messages.push(m));
    await new Promise<void>((resolve, reject) => stream.on('end', resolve).on('error', reject));
    expect(messages).toEqual([]);
  });

  it('lets a test override one method and restore it', async () => {
    standin.override('/qdrant.Collections/List', ((_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      cb({ code: grpc.status.UNAVAILABLE, details: 'overridden' });
    }) as grpc.UntypedHandleCall);
    expect(await statusOf(call('/qdrant.Collections/List', {}))).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'overridden' });
    standin.override('/qdrant.Collections/List', null);
    expect(await call('/qdrant.Collections/List', {})).toMatchObject({ collections: [{ name: 'people' }] });
  });

  it('sends Scroll replies larger than 4 MB', async () => {
    const dim = 300;
    await call('/qdrant.Collections/Create', { collection_name: 'big', vectors_config: { params: { size: dim, distance: 'Dot' } } });
    const points = Array.from({ length: 5000 }, (_, i) => ({
      id: { num: i + 1 },
      vectors: { vector: { dense: { data: Array.from({ length: dim }, (_v, j) => ((i * 31 + j) % 97) / 97) } } },
    }));
    await call('/qdrant.Points/Upsert', { collection_name: 'big', points });
    const reply = await call('/qdrant.Points/Scroll', { collection_name: 'big', limit: 5000, with_vectors: { enable: true } });
    expect(reply.bytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(reply.result).toHaveLength(5000);
    expect(reply.next_page_offset).toBeUndefined();
  });
});
