// The official JS client (@qdrant/js-client-grpc, unchanged) through the proxy, plaintext and TLS.
import { readFileSync } from 'node:fs';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { QdrantClient } from '@qdrant/js-client-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardedSince, type Stack, startStack } from '../helpers/proxy-stack.js';
import { rawClient, rawUnary } from '../helpers/raw-client.js';

describe('official JS client, plaintext to the proxy, mutual TLS upstream', () => {
  let stack: Stack;
  let client: QdrantClient;
  beforeAll(async () => {
    stack = await startStack();
    client = new QdrantClient({ url: `http://${stack.proxy.address}`, checkCompatibility: false });
  });
  afterAll(async () => stack?.stop());

  it('creates, upserts, searches, scrolls, counts and lists', async () => {
    const collections = client.api('collections');
    const points = client.api('points');
    await collections.create({ collectionName: 'books', vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } } });
    await points.upsert({
      collectionName: 'books',
      wait: true,
      points: [1, 2, 3].map((i) => ({
        id: { pointIdOptions: { case: 'num', value: BigInt(i) } },
        vectors: { vectorsOptions: { case: 'vector', value: { data: [i, 1, 0, 0] } } },
        payload: { title: { kind: { case: 'stringValue', value: `book ${i}` } } },
      })),
    });
    const found = await points.search({
      collectionName: 'books',
      vector: [3, 1, 0, 0],
      limit: 2n,
      withPayload: { selectorOptions: { case: 'enable', value: true } },
    });
    expect(found.result.map((p) => p.id?.pointIdOptions.value)).toEqual([3n, 2n]);
    const scrolled = await points.scroll({ collectionName: 'books', limit: 10 });
    expect(scrolled.result).toHaveLength(3);
    const counted = await points.count({ collectionName: 'books', exact: true });
    expect(counted.result?.count).toBe(3n);
    const listed = await collections.list({});
    expect(listed.collections.map((c) => c.name)).toContain('books');
    const health = await client.api('service').healthCheck({});
    expect(health.version).toBe('1.19.0');
  });

  it('Qdrant errors reach the client with their code and message', async () => {
    await expect(client.api('collections').get({ collectionName: 'missing' })).rejects.toMatchObject({
      code: 5,
      rawMessage: "Not found: Collection `missing` doesn't exist!",
    });
  });
});

describe('official JS client over mutual TLS to the proxy', () => {
  let stack: Stack;
  beforeAll(async () => {
    const { testCerts } = await import('../helpers/certs.js');
    const certs = testCerts();
    stack = await startStack({
      service: { enable_tls: true, verify_https_client_certificate: true },
      tls: { cert: certs.path('server.pem'), key: certs.path('server-key.pem'), ca_cert: certs.path('ca.pem') },
    });
  });
  afterAll(async () => stack?.stop());

  /** The official client's Qdrant service over a connect transport presenting certificate `name`. */
  const qdrantServiceAs = async (name: string) => {
    const { Qdrant } = await import('../helpers/qdrant-services.js');
    const transport = createGrpcTransport({
      baseUrl: `https://localhost:${stack.proxy.port}`,
      nodeOptions: {
        ca: readFileSync(stack.certs.path('ca.pem')),
        cert: readFileSync(stack.certs.path(`${name}.pem`)),
        key: readFileSync(stack.certs.path(`${name}-key.pem`)),
      },
    });
    // The descriptor is loaded at run time, so the client's methods are typed here.
    return createClient(Qdrant, transport) as unknown as { healthCheck(request: object, options?: { timeoutMs?: number }): Promise<{ version: string }> };
  };

  it('accepts a client certificate from the configured CA and serves the official client', async () => {
    const reply = await (await qdrantServiceAs('client')).healthCheck({});
    expect(reply.version).toBe('1.19.0');
  });

  it('refuses a client certificate from another CA during the handshake', async () => {
    const before = stack.standin.calls.length;
    const error = await (await qdrantServiceAs('other-client')).healthCheck({}, { timeoutMs: 5000 }).then(
      () => null,
      (e: { code: number }) => e,
    );
    // The TLS handshake is reset; connect reports that as CANCELLED, ABORTED or UNAVAILABLE by timing.
    expect(error?.code).toBeGreaterThan(0);
    expect(forwardedSince(stack.standin, before)).toEqual([]);
    // grpc-js reports a refused handshake deterministically.
    const credentials = grpc.credentials.createSsl(
      readFileSync(stack.certs.path('ca.pem')),
      readFileSync(stack.certs.path('other-client-key.pem')),
      readFileSync(stack.certs.path('other-client.pem')),
    );
    const client = rawClient(`localhost:${stack.proxy.port}`, credentials);
    const out = await rawUnary(client, '/qdrant.Qdrant/HealthCheck', Buffer.alloc(0), undefined, { deadline: Date.now() + 5000 });
    client.close();
    expect(out.code).toBe(grpc.status.UNAVAILABLE);
    expect(forwardedSince(stack.standin, before)).toEqual([]);
  });

  it('refuses a client without a certificate during the handshake', async () => {
    const client = rawClient(`localhost:${stack.proxy.port}`, grpc.credentials.createSsl(readFileSync(stack.certs.path('ca.pem'))));
    const out = await rawUnary(client, '/qdrant.Qdrant/HealthCheck', Buffer.alloc(0), undefined, { deadline: Date.now() + 5000 });
    client.close();
    expect(out.code).toBe(grpc.status.UNAVAILABLE);
  });
});
