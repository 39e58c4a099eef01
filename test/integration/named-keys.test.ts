// Named keys, revocation and secrets from files through the real binary: the CLI round trip, a
// revocation while calls are in flight, a broken keys file, expiry, audit and metrics.
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCerts } from '../helpers/certs.js';
import { signingKey } from '../helpers/idp.js';
import { type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { runBin } from '../helpers/start-proxy.js';
import { hs256 } from '../helpers/tokens.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'qap-named-keys-'));
const keysFile = join(dir, 'keys.yaml');
const revocationsFile = join(dir, 'revocations.yaml');
const masterFile = join(dir, 'master.key');
const auditDir = join(dir, 'audit');
const providerCa = join(dir, 'provider-ca.pem');
const providerJwks = join(dir, 'provider-jwks.json');
const MASTER = 'named-keys-test-master-key-0123456789';
const get = async (port: number, path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();

interface Created {
  readonly key: string;
  readonly entry: string;
}
/** `keys create` through the CLI: the key on the first line, the YAML entry after it. */
async function create(id: string, access: string, expiresIn = '90d'): Promise<Created> {
  const out = await runBin(['keys', 'create', '--id', id, '--access', access, '--expires-in', expiresIn]);
  expect(out.code, out.stderr).toBe(0);
  const [key, ...entry] = out.stdout.trimEnd().split('\n');
  return { key: key!, entry: entry.join('\n') };
}
const writeKeys = (...entries: Created[]) => writeFileSync(keysFile, `keys:\n${entries.map((e) => e.entry.replace(/^/gm, '  ')).join('\n')}\n`);

let stack: Stack;
let svcA: Created;
let svcB: Created;

beforeAll(async () => {
  [svcA, svcB] = await Promise.all([create('svc-a', 'r'), create('svc-b', '[{"collection":"c1","access":"rw"}]')]);
  writeKeys(svcA, svcB);
  writeFileSync(revocationsFile, '');
  writeFileSync(masterFile, `${MASTER}\n`);
  chmodSync(masterFile, 0o600);
  // An identity provider whose CA file a test removes (an auth file change must not need it).
  copyFileSync(testCerts().path('ca.pem'), providerCa);
  writeFileSync(providerJwks, JSON.stringify({ keys: [(await signingKey('k')).publicJwk] }));
  stack = await startStack({
    service: { api_key_file: masterFile, jwt_rbac: true },
    auth: {
      keys_file: keysFile,
      revocations_file: revocationsFile,
      jwt_providers: [
        { name: 'p', issuer: 'https://p.example.com', audiences: ['q'], jwks_file: providerJwks, access_claim: 'access', jwks: { ca_cert: providerCa } },
      ],
    },
    audit: { enabled: true, dir: auditDir },
  });
});
afterAll(async () => stack?.stop());

const list = (credential: string) => rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': credential }));

describe('named keys', () => {
  it('keys create → file → the key works as any Qdrant key; keys hash and keys list agree, never showing a secret', async () => {
    expect((await list(svcA.key)).code).toBe(0);
    expect((await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ authorization: `Bearer ${svcB.key}` }))).code).toBe(0);
    expect(await list(`${svcA.key.slice(0, -1)}${svcA.key.endsWith('A') ? 'B' : 'A'}`)).toMatchObject({ code: 16, details: 'Invalid API key or JWT' });
    expect(await list(svcA.key.slice(0, -3))).toMatchObject({ code: 16 });
    expect(await list(`qap_svc-b_${svcA.key.slice(-43)}`)).toMatchObject({ code: 16 }); // another id's secret
    const hashed = await runBin(['keys', 'hash'], {}, `${svcA.key}\n`);
    expect(svcA.entry).toContain(`hash: ${hashed.stdout.trim()}`);
    const listed = await runBin(['keys', 'list', '--file', keysFile]);
    expect(listed.stdout).toMatch(/svc-a\s+r \(read\)\s+\S+Z\s+ok/);
    expect(listed.stdout).toMatch(/svc-b\s+c1:rw/);
    expect(listed.stdout).not.toContain(svcA.key.slice(-43));
    expect(listed.stdout).not.toContain('sha256:');
  });

  it('a revocation while calls are in flight: once the reload is logged, no call with a revoked credential succeeds; the others all do', async () => {
    const credentials = {
      key: svcA.key,
      jti: await hs256({ access: 'r', jti: 'token-1' }, MASTER),
      subject: await hs256({ access: 'r', sub: 'bob' }, MASTER),
      otherKey: svcB.key,
      master: MASTER,
      otherToken: await hs256({ access: 'r', jti: 'token-2', sub: 'carol' }, MASTER),
    };
    const revoked = new Set(['key', 'jti', 'subject']);
    const calls: { name: string; started: number; code: number; details: string }[] = [];
    let reloadedAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const loop = async (name: string, credential: string) => {
      while (!stop) {
        const started = Date.now();
        const out = await list(credential);
        calls.push({ name, started, code: out.code, details: out.details });
      }
    };
    const loops = Object.entries(credentials).map(([name, credential]) => loop(name, credential));
    await until(() => calls.length > 60, 10_000, 'calls before the revocation');
    const mark = stack.proxy.output.length;
    writeFileSync(revocationsFile, 'key_ids: [svc-a]\njti: [token-1]\nsubjects: [bob]\n');
    await stack.proxy.waitForLine(/auth files reloaded/, 5000, mark);
    reloadedAt = Date.now();
    await until(() => calls.filter((c) => c.started > reloadedAt).length > 120, 20_000, 'calls after the revocation');
    stop = true;
    await Promise.all(loops);

    const after = calls.filter((c) => c.started > reloadedAt);
    for (const name of revoked) {
      expect(
        calls.some((c) => c.name === name && c.started < reloadedAt && c.code === 0),
        `${name} worked before`,
      ).toBe(true);
      expect(
        after.filter((c) => c.name === name),
        name,
      ).not.toContainEqual(expect.objectContaining({ code: 0 }));
      expect(after.filter((c) => c.name === name).every((c) => c.details === 'Credential has been revoked')).toBe(true);
    }
    expect(calls.filter((c) => !revoked.has(c.name) && c.code !== 0)).toEqual([]);
    const metrics = await get(stack.proxy.metricsPort!, '/metrics');
    expect(metrics).toMatch(/qdrant_auth_proxy_revoked_total\{reason="key_id"\} [1-9]/);
    expect(metrics).toMatch(/qdrant_auth_proxy_revoked_total\{reason="jti"\} [1-9]/);
    expect(metrics).toMatch(/qdrant_auth_proxy_named_key_uses_total\{key_id="svc-b",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/qdrant_auth_proxy_named_keys 2/);
    writeFileSync(revocationsFile, '');
    await stack.proxy.waitForLine(/auth files reloaded/, 5000, stack.proxy.output.length);
    expect((await list(svcA.key)).code).toBe(0);
  });

  it('a broken keys file is refused with the entry named; the keys in force keep serving', async () => {
    const mark = stack.proxy.output.length;
    writeFileSync(keysFile, `keys:\n${svcB.entry.replace(/^/gm, '  ')}\n${svcB.entry.replace(/^/gm, '  ')}\n`);
    const line = await stack.proxy.waitForLine(/auth file refused/, 5000, mark);
    expect(line).toContain('keys[1] (id svc-b): id svc-b is listed twice');
    expect((await list(svcA.key)).code).toBe(0);
    // Put back as it was accepted: the same text changes nothing (no reload).
    writeKeys(svcA, svcB);
  });

  it('a broken keys file never holds back a revocation, nor does a provider file that is missing', async () => {
    const mark = stack.proxy.output.length;
    writeFileSync(keysFile, 'keys: [{id: broken}]\n');
    await stack.proxy.waitForLine(/auth file refused/, 5000, mark);
    rmSync(providerCa);
    writeFileSync(revocationsFile, 'key_ids: [svc-b]\n');
    await stack.proxy.waitForLine(/auth files reloaded/, 5000, mark);
    expect(await list(svcB.key)).toMatchObject({ code: 16, details: 'Credential has been revoked' });
    expect((await list(svcA.key)).code).toBe(0);
    writeFileSync(revocationsFile, '');
    await stack.proxy.waitForLine(/auth files reloaded/, 5000, stack.proxy.output.length);
    writeKeys(svcA, svcB);
    copyFileSync(testCerts().path('ca.pem'), providerCa);
    expect((await list(svcB.key)).code).toBe(0);
  });

  it('audit records name the key id; no key, hash or master key appears in any output', async () => {
    await list(svcB.key);
    await until(
      () => readdirSync(auditDir).length > 0 && readFileSync(join(auditDir, readdirSync(auditDir)[0]!), 'utf8').includes('"key_id":"svc-b"'),
      10_000,
      'audit',
    );
    const everything = [stack.proxy.output.join('\n'), ...readdirSync(auditDir).map((f) => readFileSync(join(auditDir, f), 'utf8'))].join('\n');
    for (const secret of [svcA.key, svcB.key, MASTER, svcA.key.slice(-43)]) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/sha256:[0-9a-f]{64}/);
  });

  it('the master key from its file follows the file on SIGHUP', async () => {
    writeFileSync(masterFile, 'the-next-master-key-0123456789abc\n');
    const mark = stack.proxy.output.length;
    stack.proxy.process.kill('SIGHUP');
    await stack.proxy.waitForLine(/config reloaded/, 5000, mark);
    expect((await list('the-next-master-key-0123456789abc')).code).toBe(0);
    expect((await list(MASTER)).code).toBe(16);
  });

  it('a key expires at its expires_at, no later; the soonest expiry is a metric and a log line', async () => {
    const soon = await create('svc-soon', 'r', '3s');
    const expiresAt = Date.parse(/expires_at: (\S+)/.exec(soon.entry)![1]!);
    const mark = stack.proxy.output.length;
    writeKeys(svcA, svcB, soon);
    await stack.proxy.waitForLine(/auth files reloaded/, 5000, mark);
    expect(await stack.proxy.waitForLine(/named key expires soon/, 5000, mark)).toContain('"key_id":"svc-soon"');
    expect((await list(soon.key)).code).toBe(0);
    const soonest = Number(/^qdrant_auth_proxy_named_key_soonest_expiry_seconds (\S+)$/m.exec(await get(stack.proxy.metricsPort!, '/metrics'))?.[1]);
    expect(soonest).toBeGreaterThan(0);
    expect(soonest).toBeLessThanOrEqual(3);
    let last = await list(soon.key);
    await until(
      async () => {
        last = await list(soon.key);
        return last.code !== 0;
      },
      10_000,
      'the key to expire',
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(last).toMatchObject({ code: 16, details: 'API key has expired' });
  });
});
