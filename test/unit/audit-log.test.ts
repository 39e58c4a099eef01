import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { fileName, RotatingAuditFile } from '../../src/audit/audit-file.js';
import { type AuditEvent, AuditLog, auditError, peerAddress } from '../../src/audit/audit-log.js';
import { parseConfig } from '../../src/config/load.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';

const HOUR = 3600_000;
const T0 = Date.UTC(2026, 10, 23, 22, 30); // 2026-11-23 22:30 UTC
const silent = pino({ level: 'silent' });

describe("audit files: Qdrant's names, rotation and pruning", () => {
  it('names files by UTC day or hour', () => {
    expect(fileName(T0, 'daily')).toBe('audit.2026-11-23.log');
    expect(fileName(T0, 'hourly')).toBe('audit.2026-11-23-22.log');
  });

  it('rotates when the period changes and keeps at most max_log_files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qap-audit-'));
    writeFileSync(join(dir, 'unrelated.txt'), 'kept');
    let now = T0;
    const file = new RotatingAuditFile({
      dir,
      rotation: 'hourly',
      maxFiles: 3,
      now: () => now,
      onError: (e) => {
        throw e;
      },
    });
    for (let h = 0; h < 5; h++) {
      file.write(`{"n":${h}}\n`);
      file.write(`{"n":${h},"again":true}\n`);
      now += HOUR;
    }
    await file.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['audit.2026-11-24-00.log', 'audit.2026-11-24-01.log', 'audit.2026-11-24-02.log', 'unrelated.txt']);
    expect(readFileSync(join(dir, 'audit.2026-11-24-02.log'), 'utf8')).toBe('{"n":4}\n{"n":4,"again":true}\n');
  });

  it('daily rotation across midnight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qap-audit-'));
    let now = T0;
    const file = new RotatingAuditFile({
      dir,
      rotation: 'daily',
      maxFiles: 7,
      now: () => now,
      onError: (e) => {
        throw e;
      },
    });
    file.write('a\n');
    now += 2 * HOUR; // 00:30 the next day
    file.write('b\n');
    await file.close();
    expect(readdirSync(dir).sort()).toEqual(['audit.2026-11-23.log', 'audit.2026-11-24.log']);
  });
});

describe('audit records', () => {
  const base: AuditEvent = {
    path: '/qdrant.Points/Upsert',
    method: 'upsert_points',
    principal: { access: 'collections', authType: 'Jwt', collections: new Map([['c1', 'rw']]), subject: 'alice' },
    collections: ['c1'],
    metadata: RequestMetadata.of({}),
    peer: '10.0.0.7:51234',
    allowed: true,
    code: 0,
    durationMs: 1.23456,
  };

  async function recordAll(events: AuditEvent[], audit: Partial<ReturnType<typeof parseConfig>['audit']> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'qap-audit-'));
    const log = new AuditLog({ ...parseConfig({}).audit, enabled: true, dir, ...audit }, silent, () => T0);
    for (const e of events) log.record(e);
    await log.close();
    return readFileSync(join(dir, 'audit.2026-11-23.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it("writes Qdrant's fields in Qdrant's order, plus code and duration", async () => {
    const md = RequestMetadata.of({ 'x-request-id': 'r'.repeat(300), authorization: 'Bearer secret-token' });
    const [entry] = await recordAll([{ ...base, metadata: md }]);
    expect(Object.keys(entry!)).toEqual([
      'timestamp',
      'method',
      'api',
      'auth_type',
      'subject',
      'remote',
      'collection',
      'tracing_id',
      'result',
      'code',
      'duration_ms',
    ]);
    expect(entry).toMatchObject({
      timestamp: '2026-11-23T22:30:00.000Z',
      method: 'upsert_points',
      api: '/qdrant.Points/Upsert',
      auth_type: 'Jwt',
      subject: 'alice',
      remote: '10.0.0.7',
      collection: 'c1',
      result: 'ok',
      code: 0,
      duration_ms: 1.235,
    });
    expect(entry!.tracing_id).toHaveLength(256);
    expect(JSON.stringify(entry)).not.toContain('secret-token');
  });

  it("denied authentication: no method or subject, auth_type None, Qdrant's error text", async () => {
    const [entry] = await recordAll([{ ...base, principal: null, collections: [], allowed: false, code: 16, error: auditError(16, 'Invalid API key or JWT') }]);
    expect(entry).toEqual({
      timestamp: '2026-11-23T22:30:00.000Z',
      api: '/qdrant.Points/Upsert',
      auth_type: 'None',
      remote: '10.0.0.7',
      result: 'denied',
      error: 'Unauthorized: Invalid API key or JWT',
      code: 16,
      duration_ms: 1.235,
    });
  });

  it('forwarded addresses only when trusted; api only with log_api', async () => {
    const md = RequestMetadata.of({ 'x-forwarded-for': '203.0.113.9, 10.0.0.1' });
    const [untrusted] = await recordAll([{ ...base, metadata: md }]);
    expect(untrusted!.remote).toBe('10.0.0.7');
    const [trusted] = await recordAll([{ ...base, metadata: md }], { trust_forwarded_headers: true, log_api: false });
    expect(trusted!.remote).toBe('203.0.113.9, 10.0.0.1');
    expect(trusted!.api).toBeUndefined();
  });

  it('error texts', () => {
    expect(auditError(7, 'ExpiredSignature')).toBe('Forbidden: ExpiredSignature');
    expect(auditError(7, 'Forbidden: Global access is required')).toBe('Forbidden: Global access is required');
    expect(peerAddress('[::1]:5000')).toBe('::1');
    expect(peerAddress('127.0.0.1:5000')).toBe('127.0.0.1');
  });
});
