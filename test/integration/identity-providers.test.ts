// Identity provider tokens through the real binary: a local HTTPS IdP (JWKS over TLS with the demo
// CA), access from claims, audit and metrics, /readyz, the IdP going away, and a key rotation
// under load with zero failures.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { testCerts } from '../helpers/certs.js';
import { type SigningKey, signingKey, TestIdp } from '../helpers/idp.js';
import { forwardedSince, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const KEY = 'identity-provider-test-master-key';
const api = loadQdrantApi();
const encode = (path: string, value: object) => api.methods.get(path)!.request!.encode(value);
const auditDir = mkdtempSync(join(tmpdir(), 'qap-idp-audit-'));
const certs = testCerts();
const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

let idp: TestIdp;
let k1: SigningKey;
let k2: SigningKey;
let stack: Stack;

beforeAll(async () => {
  [k1, k2] = await Promise.all([signingKey('rotation-1'), signingKey('rotation-2')]);
  idp = await new TestIdp(certs).start();
  idp.published = [k1];
  stack = await startStack({
    service: { api_key: KEY, jwt_rbac: true },
    audit: { enabled: true, dir: auditDir },
    auth: {
      jwt_providers: [
        {
          name: 'test-idp',
          issuer: idp.issuer,
          audiences: ['qdrant'],
          discovery: true,
          subject_claim: 'preferred_username',
          access_rules: [
            { claim: 'groups', contains: 'qdrant-admins', access: 'm' },
            { claim: 'scope', contains: 'qdrant:read', access: 'r' },
            { claim: 'roles', contains: 'team-a', access: [{ collection: 'team-a-docs', access: 'rw' }] },
          ],
          jwks: { ca_cert: certs.path('ca.pem'), cache_seconds: 10, timeout_ms: 1000 },
        },
      ],
    },
  });
  for (const name of ['team-a-docs', 'team-b-docs'])
    expect(
      (await rawUnary(stack.client, '/qdrant.Collections/Create', encode('/qdrant.Collections/Create', { collection_name: name }), md({ 'api-key': KEY })))
        .code,
    ).toBe(0);
  await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).text.includes('provider test-idp: keys usable'), 10_000, 'keys fetched');
});
afterAll(async () => {
  await stack?.stop();
  await idp?.stop();
});

const claims = (extra: Record<string, unknown>) => ({ aud: 'qdrant', preferred_username: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...extra });
const bearer = (token: string) => md({ authorization: `Bearer ${token}` });
const upsert = (collection: string) => encode('/qdrant.Points/Upsert', { collection_name: collection, points: [] });
const count = (collection: string) => encode('/qdrant.Points/Count', { collection_name: collection });

describe('identity provider tokens through the proxy', () => {
  it('access follows the mapping: allowed calls reach Qdrant, denied ones do not', async () => {
    const teamA = await idp.sign(k1, claims({ roles: ['team-a'] }));
    const reader = await idp.sign(k1, claims({ scope: 'openid qdrant:read' }));
    const nobody = await idp.sign(k1, claims({ groups: ['users'] }));
    const before = stack.standin.calls.length;
    expect((await rawUnary(stack.client, '/qdrant.Points/Upsert', upsert('team-a-docs'), bearer(teamA))).code).toBe(0);
    expect(await rawUnary(stack.client, '/qdrant.Points/Upsert', upsert('team-b-docs'), bearer(teamA))).toMatchObject({
      code: 7,
      details: 'Forbidden: Access to collection team-b-docs is required',
    });
    expect((await rawUnary(stack.client, '/qdrant.Points/Count', count('team-b-docs'), bearer(reader))).code).toBe(0);
    expect(await rawUnary(stack.client, '/qdrant.Points/Upsert', upsert('team-b-docs'), bearer(reader))).toMatchObject({
      code: 7,
      details: 'Forbidden: Global manage access is required',
    });
    expect(await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(nobody))).toMatchObject({
      code: 7,
      details: "Forbidden: no access follows from the token's claims",
    });
    expect(forwardedSince(stack.standin, before).map((c) => c.path)).toEqual(['/qdrant.Points/Upsert', '/qdrant.Points/Count']);
  });

  it('bad tokens get a clear status and nothing reaches Qdrant', async () => {
    const stranger = await signingKey('not-published');
    const confused = await new SignJWT(claims({ iss: idp.issuer, groups: ['qdrant-admins'] }))
      .setProtectedHeader({ alg: 'HS256', kid: 'rotation-1' })
      .sign(new TextEncoder().encode(JSON.stringify(k1.publicJwk)));
    const cases: [string, number, string][] = [
      [await idp.sign(stranger, claims({ groups: ['qdrant-admins'] })), 16, 'Invalid JWT: the signing key is unknown'],
      [confused, 16, 'Invalid JWT: the algorithm is not accepted'],
      [await idp.sign(k1, claims({ groups: ['qdrant-admins'], aud: 'other' })), 16, 'Invalid JWT: claim aud is not accepted'],
      [await idp.sign(k1, claims({ groups: ['qdrant-admins'], exp: 1 })), 7, 'ExpiredSignature'],
    ];
    const before = stack.standin.calls.length;
    for (const [token, code, details] of cases)
      expect(await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(token))).toMatchObject({ code, details });
    expect(forwardedSince(stack.standin, before)).toEqual([]);
  });

  it('audit records name the provider and the subject; metrics count fetches and verifications', async () => {
    await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(await idp.sign(k1, claims({ groups: ['qdrant-admins'] }))));
    const metrics = (await get(stack.proxy.metricsPort!, '/metrics')).text;
    expect(metrics).toMatch(/qdrant_auth_proxy_jwks_fetches_total\{provider="test-idp",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/qdrant_auth_proxy_provider_tokens_total\{provider="test-idp",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/qdrant_auth_proxy_provider_tokens_total\{provider="test-idp",outcome="unknown_key"\} 1/);
    expect(metrics).toMatch(/qdrant_auth_proxy_jwks_age_seconds\{provider="test-idp"\} \d/);
    expect(metrics).toMatch(/qdrant_auth_proxy_jwks_usable\{provider="test-idp"\} 1/);
    await until(
      () => readdirSync(auditDir).length > 0 && readFileSync(join(auditDir, readdirSync(auditDir)[0]!), 'utf8').includes('"provider"'),
      10_000,
      'audit record',
    );
    const records = readFileSync(join(auditDir, readdirSync(auditDir)[0]!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.provider === 'test-idp')).toMatchObject({ auth_type: 'Jwt', provider: 'test-idp', subject: 'alice' });
  });

  it('a key rotation under load: zero failures for the old key while published and for the new one', async () => {
    const failures: string[] = [];
    let calls = 0;
    let phase: 'old' | 'both' | 'new' = 'old';
    const worker = async () => {
      while (phase !== ('done' as string)) {
        const key = phase === 'old' ? k1 : phase === 'new' ? k2 : calls % 2 === 0 ? k1 : k2;
        // A fresh token per call: every call is a cold verification, not a cache hit.
        const token = await idp.sign(key, claims({ groups: ['qdrant-admins'], jti: `${calls}` }));
        calls++;
        const out = await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(token));
        if (out.code !== 0) failures.push(`${phase} ${key.kid}: ${out.code} ${out.details}`);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    const waitCalls = (n: number) => until(() => calls >= n, 30_000, `${n} calls`);
    await waitCalls(100);
    // The IdP announces its next key, and signs with it once relying parties had a refresh to see it
    // (README "Rotating an IdP's signing key"); tokens with the old key keep coming meanwhile.
    idp.published = [k1, k2];
    const announced = idp.jwksFetches;
    await until(() => idp.jwksFetches > announced, 30_000, 'a background refresh after the new key was published');
    phase = 'both';
    await waitCalls(calls + 200);
    idp.published = [k2]; // the old key is retired: no more tokens signed with it
    phase = 'new';
    const fetches = idp.jwksFetches;
    await until(() => idp.jwksFetches > fetches, 30_000, 'a background refresh after the old key was dropped');
    await waitCalls(calls + 100);
    phase = 'done' as typeof phase;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(500);
    // The retired key's tokens are refused once the refreshed set no longer has it.
    const old = await idp.sign(k1, claims({ groups: ['qdrant-admins'], jti: 'after' }));
    expect(await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(old))).toMatchObject({ code: 16 });
  });

  it("the IdP going away: its tokens keep working from the last good set; Qdrant's own keys are untouched", async () => {
    idp.behaviour = { kind: 'status', status: 503 };
    try {
      const fetches = idp.jwksFetches;
      await until(() => idp.jwksFetches > fetches, 30_000, 'a failed refresh');
      const token = await idp.sign(k2, claims({ groups: ['qdrant-admins'], jti: 'down' }));
      expect((await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), bearer(token))).code).toBe(0);
      expect((await rawUnary(stack.client, '/qdrant.Points/Count', count('team-a-docs'), md({ 'api-key': KEY }))).code).toBe(0);
      const ready = await get(stack.proxy.metricsPort!, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.text).toMatch(/provider test-idp: keys usable; 1 keys, fetched \d+ s ago; last fetch failed: .* answered HTTP 503/);
    } finally {
      idp.behaviour = { kind: 'keys' };
    }
  });
});

describe('reload', () => {
  it('a reload refused late (an audit dir that cannot be made) leaves the key sources as they were', async () => {
    const key = await signingKey('file-key');
    const jwksFile = join(auditDir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    const provider = { name: 'file-idp', issuer: 'https://file-idp.example.com', audiences: ['qdrant'], jwks_file: jwksFile, access_claim: 'access' };
    const local = await startStack({ service: { api_key: KEY }, auth: { jwt_providers: [provider] } });
    try {
      const fetches = async () =>
        Number(
          /qdrant_auth_proxy_jwks_fetches_total\{provider="file-idp",result="ok"\} (\d+)/.exec((await get(local.proxy.metricsPort!, '/metrics')).text)?.[1] ??
            0,
        );
      await until(async () => (await fetches()) === 1, 10_000, 'the first key fetch');
      const original = parse(readFileSync(local.proxy.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
      const changed = { ...provider, jwks: { cache_seconds: 99 } };
      writeFileSync(
        local.proxy.configFile,
        stringify({ ...original, auth: { jwt_providers: [changed] }, audit: { enabled: true, dir: '/proc/no-such-dir/audit' } }),
      );
      const mark = local.proxy.output.length;
      local.proxy.process.kill('SIGHUP');
      await local.proxy.waitForLine(/config reload refused/, 10_000, mark);
      // Back to the original: its key source is the one still in force, so nothing is fetched anew.
      writeFileSync(local.proxy.configFile, stringify(original));
      const again = local.proxy.output.length;
      local.proxy.process.kill('SIGHUP');
      await local.proxy.waitForLine(/config reloaded/, 10_000, again);
      expect(await fetches()).toBe(1);
      const token = await new SignJWT({ aud: 'qdrant', access: 'r', exp: Math.floor(Date.now() / 1000) + 60 })
        .setProtectedHeader({ alg: 'RS256', kid: 'file-key' })
        .setIssuer(provider.issuer)
        .sign(key.privateKey);
      expect((await rawUnary(local.client, '/qdrant.Collections/List', Buffer.alloc(0), bearer(token))).code).toBe(0);
    } finally {
      await local.stop();
    }
  });
});
