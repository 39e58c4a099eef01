// The audit log written by the real binary: allowed, denied and unauthenticated calls, flushed on
// SIGTERM, and never a secret.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestNaming } from '../helpers/access-expectations.js';
import { type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';

const KEY = 'audit-test-key-0123456789';
const RO = 'audit-read-only-key';
const dir = mkdtempSync(join(tmpdir(), 'qap-audit-int-'));
let stack: Stack;
let token: string;
let records: Record<string, unknown>[];

beforeAll(async () => {
  stack = await startStack({
    service: { api_key: KEY, read_only_api_key: RO, jwt_rbac: true },
    audit: { enabled: true, dir, stdout: true },
    log_level: 'WARN',
  });
  token = await new SignJWT({ access: [{ collection: 'mine', access: 'rw' }], subject: 'alice' })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(KEY));
  await rawUnary(stack.client, '/qdrant.Points/Count', requestNaming('mine'), md({ authorization: `Bearer ${token}`, 'x-request-id': 'req-1' }));
  await rawUnary(stack.client, '/qdrant.Points/Count', requestNaming('theirs'), md({ authorization: `Bearer ${token}` }));
  await rawUnary(stack.client, '/qdrant.Points/Upsert', requestNaming('mine'), md({ 'api-key': RO }));
  await rawUnary(stack.client, '/qdrant.Points/Count', requestNaming('mine'), md({ 'api-key': 'wrong-key' }));
  await rawUnary(stack.client, '/qdrant.Qdrant/HealthCheck', Buffer.alloc(0));
  await rawUnary(stack.client, '/qdrant.Points/Get', requestNaming('keyed'), md({ 'api-key': KEY }));
  stack.standin.override('/qdrant.Points/Search', (() => undefined) as grpc.UntypedHandleCall); // never answers
  await rawUnary(stack.client, '/qdrant.Points/Search', requestNaming('mine'), md({ 'api-key': KEY }), { deadline: Date.now() + 300 });
  expect(await stack.proxy.stop('SIGTERM')).toBe(0); // flushes the audit file
  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^audit\.\d{4}-\d{2}-\d{2}\.log$/);
  records = readFileSync(join(dir, files[0]!), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
});
afterAll(async () => stack?.stop());

describe('audit log', () => {
  it('one record per decision; health checks are not audited', () => {
    expect(records.map((r) => [r.api, r.result, r.code])).toEqual([
      ['/qdrant.Points/Count', 'ok', 5], // allowed; the upstream then answered NOT_FOUND (no such collection)
      ['/qdrant.Points/Count', 'denied', 7],
      ['/qdrant.Points/Upsert', 'denied', 7],
      ['/qdrant.Points/Count', 'denied', 16],
      ['/qdrant.Points/Get', 'ok', 5],
      ['/qdrant.Points/Search', 'ok', 4], // the client's deadline passed: DEADLINE_EXCEEDED, not CANCELLED
    ]);
  });

  it('records name the collection for global keys too, and the peer of a client that has gone', () => {
    expect(records[4]).toMatchObject({ auth_type: 'ApiKey', collection: 'keyed', remote: '127.0.0.1' });
    expect(records[5]).toMatchObject({ collection: 'mine', remote: '127.0.0.1' });
  });

  it('allowed call: method, subject, collection, tracing id, remote', () => {
    expect(records[0]).toMatchObject({ method: 'count', auth_type: 'Jwt', subject: 'alice', collection: 'mine', tracing_id: 'req-1', remote: '127.0.0.1' });
    expect(typeof records[0]!.duration_ms).toBe('number');
  });

  it('denied access names the collection and the reason', () => {
    expect(records[1]).toMatchObject({ auth_type: 'Jwt', subject: 'alice', collection: 'theirs', error: 'Forbidden: Access to collection theirs is required' });
    // A global key refused on a collection-scoped method: the record names the collection, as Qdrant's does.
    expect(records[2]).toMatchObject({ auth_type: 'ApiKey', collection: 'mine', error: 'Forbidden: Global manage access is required' });
  });

  it('denied authentication is recorded as Qdrant does', () => {
    expect(records[3]).toEqual(expect.objectContaining({ auth_type: 'None', error: 'Unauthorized: Invalid API key or JWT' }));
    expect(records[3]!.method).toBeUndefined();
  });

  it('records also go to stdout for log shippers', () => {
    expect(stack.proxy.output.filter((l) => l.includes('"audit":true'))).toHaveLength(6);
  });

  it('no secret in the audit file or the process output', () => {
    const all = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8') + stack.proxy.output.join('\n');
    for (const secret of [KEY, RO, token, 'wrong-key']) expect(all).not.toContain(secret);
  });
});
