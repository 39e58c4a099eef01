// The proxy as the network edge: client certificate identities, limits, deadline ceiling.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestNaming } from '../helpers/access-expectations.js';
import { testCerts } from '../helpers/certs.js';
import { forwardedSince, held, overrideForTest, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const certs = testCerts();
const reached = (stack: Stack, path: string, before: number) => forwardedSince(stack.standin, before).some((c) => c.path === path);

describe('client certificate identities (beyond Qdrant)', () => {
  let stack: Stack;
  const tlsClient = (cert: string) =>
    rawClient(
      `localhost:${stack.proxy.port}`,
      grpc.credentials.createSsl(readFileSync(certs.path('ca.pem')), readFileSync(certs.path(`${cert}-key.pem`)), readFileSync(certs.path(`${cert}.pem`))),
    );
  beforeAll(async () => {
    stack = await startStack({
      service: { api_key: 'edge-key', enable_tls: true, verify_https_client_certificate: true },
      tls: { cert: certs.path('server.pem'), key: certs.path('server-key.pem'), ca_cert: certs.path('ca.pem') },
      auth: { client_cert_identities: { 'demo-client': [{ collection: 'certcoll', access: 'r' }] } },
    });
  });
  afterAll(async () => stack?.stop());

  it('a mapped certificate needs no key, and gets exactly its grant', async () => {
    const client = tlsClient('client'); // CN=demo-client
    let before = stack.standin.calls.length;
    expect((await rawUnary(client, '/qdrant.Points/Count', requestNaming('certcoll'))).code).not.toBe(grpc.status.PERMISSION_DENIED);
    expect(reached(stack, '/qdrant.Points/Count', before)).toBe(true);
    before = stack.standin.calls.length;
    const other = await rawUnary(client, '/qdrant.Points/Count', requestNaming('other'));
    expect([other.code, other.details]).toEqual([7, 'Forbidden: Access to collection other is required']);
    const write = await rawUnary(client, '/qdrant.Points/Upsert', requestNaming('certcoll'));
    expect([write.code, write.details]).toEqual([7, 'Forbidden: Write access to collection certcoll is required']);
    expect(reached(stack, '/qdrant.Points/Upsert', before)).toBe(false);
    // A credential, when sent, is what counts.
    expect((await rawUnary(client, '/qdrant.Collections/Create', Buffer.alloc(0), md({ 'api-key': 'edge-key' }))).code).not.toBe(7);
    expect((await rawUnary(client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'wrong' }))).code).toBe(16);
    client.close();
  });

  it('an unmapped certificate from the right CA still needs a credential', async () => {
    const client = tlsClient('proxy-client'); // CN=qdrant-auth-proxy, not mapped
    const out = await rawUnary(client, '/qdrant.Points/Count', requestNaming('certcoll'));
    expect([out.code, out.details]).toEqual([16, 'Must provide an API key or an Authorization bearer token']);
    client.close();
  });
});

describe('limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ limits: { max_metadata_bytes: 4096, max_connections: 2, max_call_timeout_ms: 700 }, auth: { max_credential_bytes: 1024 } });
  });
  afterAll(async () => stack?.stop());

  it('refuses oversized metadata before anything else', async () => {
    const before = stack.standin.calls.length;
    const out = await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'x-big': 'x'.repeat(5000) }));
    expect(out.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(forwardedSince(stack.standin, before)).toEqual([]);
    expect((await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'x-small': 'ok' }))).code).toBe(0);
  });

  it('caps the upstream deadline of a call that has none', async () => {
    overrideForTest(stack.standin, '/qdrant.Points/Search', (() => undefined) as grpc.UntypedHandleCall); // never answers
    const started = Date.now();
    const out = await rawUnary(stack.client, '/qdrant.Points/Search', Buffer.alloc(0));
    expect(out.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('closes connections beyond max_connections at accept', async () => {
    // Separate subchannel pools: one TCP connection per client.
    const clients = [0, 1, 2].map(() => rawClient(stack.proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    stack.client.close(); // the shared client holds one of the two
    await until(async () => (await held(stack.proxy, 'connections')) === 0); // until the proxy has let it go
    const codes: number[] = [];
    for (const c of clients) codes.push((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), undefined, { deadline: Date.now() + 2000 })).code);
    expect(codes.slice(0, 2)).toEqual([0, 0]);
    expect(codes[2]).not.toBe(0);
    for (const c of clients) c.close();
  });
});
