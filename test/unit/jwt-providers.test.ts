// Identity provider tokens through the Authenticator, against a local HTTPS IdP (test/helpers/idp.ts).
import { execFileSync } from 'node:child_process';
import { createHmac, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/authenticate.js';
import { CertificateIdentities } from '../../src/auth/client-certificate.js';
import { displayUrl, readJsonFile } from '../../src/auth/providers/jwks-fetch.js';
import { KeySources } from '../../src/auth/providers/key-sources.js';
import { parseConfig } from '../../src/config/load.js';
import { buildEngine, buildProviders } from '../../src/engine.js';
import { ProxyError } from '../../src/errors.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { testCerts } from '../helpers/certs.js';
import { type SigningKey, signingKey, TestIdp } from '../helpers/idp.js';
import { until } from '../helpers/wait.js';

const certs = testCerts();
const silent = pino({ level: 'silent' });
const QDRANT_KEY = 'the-qdrant-master-key-of-this-test';
const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;

let idp: TestIdp;
let other: TestIdp;
let rsa: SigningKey;
let rsaNext: SigningKey;
let ec: SigningKey;
let otherKey: SigningKey;

beforeAll(async () => {
  [rsa, rsaNext, ec, otherKey] = await Promise.all([signingKey('k1'), signingKey('k2'), signingKey('e1', 'ES256'), signingKey('o1')]);
  idp = await new TestIdp(certs).start();
  other = await new TestIdp(certs).start();
  other.published = [otherKey];
});
afterAll(async () => {
  await Promise.all([idp.stop(), other.stop()]);
});

interface Harness {
  readonly auth: Authenticator;
  readonly clock: { now: number };
  readonly outcomes: string[];
  readonly sources: KeySources;
}
const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.sources.stop();
  idp.published = [rsa, ec];
  idp.behaviour = { kind: 'keys' };
});

/** An Authenticator with Qdrant's HS256 tokens and two providers (`idp`, `other`), on a clock the test moves. */
async function harness(provider: Record<string, unknown> = {}, options: { tokenCacheSize?: number; wait?: boolean } = {}): Promise<Harness> {
  idp.published = idp.published.length > 0 ? idp.published : [rsa, ec];
  const config = parseConfig({
    service: { api_key: QDRANT_KEY, jwt_rbac: true },
    auth: {
      jwt_providers: [
        {
          name: 'idp',
          issuer: idp.issuer,
          audiences: ['qdrant'],
          jwks_uri: idp.jwksUri,
          algorithms: ['RS256'],
          access_claim: 'qdrant.access',
          access_rules: [
            { claim: 'groups', contains: 'qdrant-admins', access: 'm' },
            { claim: 'scope', contains: 'qdrant:read', access: 'r' },
            { claim: 'roles', contains: 'team-a', access: [{ collection: 'team-a-docs', access: 'rw' }] },
          ],
          jwks: { ca_cert: certs.path('ca.pem'), timeout_ms: 500 },
          ...provider,
        },
        {
          name: 'other',
          issuer: other.issuer,
          audiences: ['qdrant'],
          jwks_uri: other.jwksUri,
          access_rules: [{ claim: 'groups', contains: 'qdrant-admins', access: 'm' }],
          jwks: { ca_cert: certs.path('ca.pem') },
        },
      ],
    },
  });
  const clock = { now: Date.now() };
  const outcomes: string[] = [];
  const sources = new KeySources({ now: () => clock.now, logger: silent, onFetch: () => undefined });
  const auth = new Authenticator({
    apiKey: QDRANT_KEY,
    altApiKey: null,
    readOnlyApiKey: null,
    jwtRbac: true,
    maxCredentialBytes: 16384,
    tokenCacheSize: options.tokenCacheSize ?? 100,
    certificateIdentities: new CertificateIdentities({}),
    providers: buildProviders(config.auth.jwt_providers, sources),
    onProviderToken: (provider, outcome) => outcomes.push(`${provider} ${outcome}`),
    now: () => clock.now,
  });
  const h = { auth, clock, outcomes, sources };
  harnesses.push(h);
  if (options.wait !== false) await until(() => sources.statuses().every((s) => s.keys > 0 || s.lastError !== null), 10_000, 'first key fetch');
  return h;
}

const bearer = (token: string) => RequestMetadata.of({ authorization: `Bearer ${token}` });
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ aud: 'qdrant', sub: 'alice', exp: now() + 600, groups: ['qdrant-admins'], ...extra });

/** `access` of the principal, or `code message` of the refusal. */
async function outcome(h: Harness, token: string): Promise<string> {
  try {
    const p = await h.auth.authenticate(bearer(token));
    return p.access;
  } catch (err) {
    if (err instanceof ProxyError) return `${err.status} ${err.message}`;
    throw err;
  }
}

describe('identity provider tokens', () => {
  it('a valid token: the access its claims give, its subject and provider; then answered from the cache', async () => {
    const h = await harness();
    const token = await idp.sign(rsa, claims());
    const principal = await h.auth.authenticate(bearer(token));
    expect(principal).toMatchObject({ access: 'manage', authType: 'Jwt', provider: 'idp', subject: 'alice' });
    expect(await outcome(h, token)).toBe('manage');
    expect(h.outcomes).toEqual(['idp ok', 'idp cached']);
  });

  it('maps rules and the access claim as configured', async () => {
    const h = await harness();
    const read = await h.auth.authenticate(bearer(await idp.sign(rsa, claims({ groups: [], scope: 'openid qdrant:read', roles: ['team-a'] }))));
    expect(read).toMatchObject({ access: 'read', writes: new Map([['team-a-docs', 'rw']]) });
    const scoped = await h.auth.authenticate(bearer(await idp.sign(rsa, claims({ groups: [], qdrant: { access: [{ collection: 'c', access: 'prw' }] } }))));
    expect(scoped).toMatchObject({ access: 'collections', collections: new Map([['c', 'prw']]) });
  });

  it('a token from which no access follows is PERMISSION_DENIED, never manage', async () => {
    const h = await harness();
    expect(await outcome(h, await idp.sign(rsa, claims({ groups: ['users'] })))).toBe(
      `${PERMISSION_DENIED} Forbidden: no access follows from the token's claims`,
    );
    expect(h.outcomes).toEqual(['idp no_access']);
  });

  it("an access claim not shaped like Qdrant's is refused", async () => {
    const h = await harness();
    expect(await outcome(h, await idp.sign(rsa, claims({ qdrant: { access: 'admin' } })))).toBe(
      `${UNAUTHENTICATED} Invalid JWT: claim qdrant.access is not shaped like Qdrant's access claim`,
    );
  });

  it("Qdrant's own HS256 tokens keep working beside the providers", async () => {
    const h = await harness();
    const qdrantToken = await new SignJWT({ access: 'r' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(QDRANT_KEY));
    expect(await outcome(h, qdrantToken)).toBe('read');
    expect(h.outcomes).toEqual([]);
  });

  it('value_exists works on provider tokens (integers exact)', async () => {
    const h = await harness();
    const token = await idp.sign(rsa, claims({ value_exists: { collection: 'users', matches: [{ key: 'user', value: 'alice' }] } }));
    expect((await h.auth.authenticate(bearer(token))).valueExists).toEqual({ collection: 'users', matches: [{ key: 'user', value: 'alice' }] });
    const bad = await idp.sign(rsa, claims({ value_exists: { collection: 'users', matches: [{ key: 'a..b', value: 1 }] } }));
    expect(await outcome(h, bad)).toBe(`${UNAUTHENTICATED} Invalid JWT: the value_exists claim is malformed`);
  });
});

describe('bad tokens: a clear status, nothing verified', () => {
  it("algorithm confusion: HS256 signed with the provider's public key as the secret", async () => {
    const h = await harness();
    const pem = createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [pem, JSON.stringify(rsa.publicJwk), rsa.publicJwk.n!]) {
      const token = await new SignJWT(claims({ iss: idp.issuer }))
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .sign(new TextEncoder().encode(String(secret)));
      expect(await outcome(h, token)).toBe(`${UNAUTHENTICATED} Invalid JWT: the algorithm is not accepted`);
    }
  });

  it('alg none, and an algorithm not in the provider list', async () => {
    const h = await harness();
    const unsigned = `${b64({ alg: 'none', kid: 'k1' })}.${b64(claims({ iss: idp.issuer }))}.`;
    expect(await outcome(h, unsigned)).toBe(`${UNAUTHENTICATED} Invalid JWT: the algorithm is not accepted`);
    expect(await outcome(h, await idp.sign(ec, claims()))).toBe(`${UNAUTHENTICATED} Invalid JWT: the algorithm is not accepted`);
    const h2 = await harness({ algorithms: ['RS256', 'ES256'] });
    expect(await outcome(h2, await idp.sign(ec, claims()))).toBe('manage');
  });

  it('keys named in the header (jwk, jku, x5u) are never used', async () => {
    const h = await harness();
    for (const header of [{ jwk: rsa.publicJwk }, { jku: `${idp.issuer}/jwks` }, { x5u: 'https://example.com/cert.pem' }]) {
      const name = Object.keys(header)[0];
      expect(await outcome(h, await idp.sign(rsa, claims(), header))).toBe(
        `${UNAUTHENTICATED} Invalid JWT: the header names a key (${name}), which is never used`,
      );
    }
  });

  it('an unknown kid refetches the set at most once per unknown_kid_refetch_seconds; an absurdly long one never', async () => {
    const h = await harness();
    const fetches = idp.jwksFetches;
    const stranger = await signingKey('nobody-knows-me');
    const unknown = `${UNAUTHENTICATED} Invalid JWT: the signing key is unknown`;
    expect(await outcome(h, await idp.sign(stranger, claims()))).toBe(unknown);
    expect(idp.jwksFetches).toBe(fetches + 1);
    for (let i = 0; i < 20; i++) expect(await outcome(h, await idp.sign({ ...stranger, kid: `random-${i}` }, claims()))).toBe(unknown);
    expect(idp.jwksFetches).toBe(fetches + 1);
    h.clock.now += 10_001;
    expect(await outcome(h, await idp.sign(stranger, claims()))).toBe(unknown);
    expect(idp.jwksFetches).toBe(fetches + 2);
    h.clock.now += 10_001;
    expect(await outcome(h, await idp.sign({ ...stranger, kid: 'x'.repeat(257) }, claims()))).toBe(`${UNAUTHENTICATED} Invalid JWT: malformed key id`);
    expect(idp.jwksFetches).toBe(fetches + 2);
    expect(h.outcomes.filter((o) => o === 'idp unknown_key')).toHaveLength(22);
  });

  it("a kid of another provider's key, and provider A's signature on a token naming B", async () => {
    const h = await harness();
    expect(await outcome(h, await idp.sign(otherKey, claims()))).toBe(`${UNAUTHENTICATED} Invalid JWT: the signing key is unknown`);
    // The same kid in both sets: B's key does not verify A's signature.
    other.published = [{ ...otherKey, publicJwk: { ...otherKey.publicJwk } }];
    const sameKid = { ...rsa, kid: 'o1' };
    expect(await outcome(h, await other.sign(sameKid, claims()))).toBe(`${PERMISSION_DENIED} InvalidSignature`);
    expect(await outcome(h, await other.sign(otherKey, claims()))).toBe('manage');
  });

  it('issuer and audience mismatch', async () => {
    const h = await harness();
    // An issuer no provider has goes Qdrant's way, where an RS256 token is not a JWT at all.
    expect(await outcome(h, await idp.sign(rsa, claims({ iss: 'https://elsewhere.example.com' })))).toBe(`${UNAUTHENTICATED} Invalid API key or JWT`);
    expect(await outcome(h, await idp.sign(rsa, claims({ aud: 'grafana' })))).toBe(`${UNAUTHENTICATED} Invalid JWT: claim aud is not accepted`);
    expect(await outcome(h, await idp.sign(rsa, claims({ aud: ['grafana', 'qdrant'] })))).toBe('manage');
  });

  it('expired, not yet valid, missing exp, too old; leeway applies', async () => {
    const h = await harness({ max_token_age_seconds: 3600 });
    expect(await outcome(h, await idp.sign(rsa, claims({ exp: now() - 31, iat: now() - 100 })))).toBe(`${PERMISSION_DENIED} ExpiredSignature`);
    expect(await outcome(h, await idp.sign(rsa, claims({ exp: now() - 20, iat: now() - 100 })))).toBe('manage');
    expect(await outcome(h, await idp.sign(rsa, claims({ nbf: now() + 60, iat: now() })))).toBe(
      `${UNAUTHENTICATED} Invalid JWT: claim nbf is in the future (not yet valid)`,
    );
    expect(await outcome(h, await idp.sign(rsa, claims({ exp: undefined, iat: now() })))).toBe(`${UNAUTHENTICATED} Invalid JWT: claim exp is missing`);
    expect(await outcome(h, await idp.sign(rsa, claims({ iat: now() - 7200 })))).toBe(`${PERMISSION_DENIED} ExpiredSignature`);
    expect(await outcome(h, await idp.sign(rsa, claims({})))).toBe(`${UNAUTHENTICATED} Invalid JWT: claim iat is missing`);
  });

  it('a cached token is not served past its exp', async () => {
    const h = await harness();
    const token = await idp.sign(rsa, claims({ exp: now() + 60 }));
    expect(await outcome(h, token)).toBe('manage');
    h.clock.now += 91_000;
    expect(await outcome(h, token)).toBe(`${PERMISSION_DENIED} ExpiredSignature`);
  });

  it('one spelling per token: a segment with other spare bits (the same bytes) is refused, so no revocation or limit is stepped around', async () => {
    const h = await harness();
    const token = await idp.sign(rsa, claims());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // An RS256 signature is 256 bytes: its last base64url character carries 4 spare bits.
    const last = token.at(-1)!;
    const variant = token.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
    expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(Buffer.from(token.split('.')[2]!, 'base64url'));
    expect(await outcome(h, token)).toBe('manage');
    expect(await outcome(h, variant)).toBe(`${UNAUTHENTICATED} Invalid JWT: malformed token`);
  });

  it('a token larger than the credential cap is refused before decoding', async () => {
    const h = await harness();
    expect(await outcome(h, await idp.sign(rsa, claims({ pad: 'x'.repeat(20_000) })))).toBe(`${UNAUTHENTICATED} Invalid API key or JWT`);
    expect(h.outcomes).toEqual([]);
  });

  it('fuzz: headers, algorithms, kids and signatures an attacker picks never verify (fixed seed)', async () => {
    const h = await harness({ algorithms: ['RS256', 'ES256'] });
    const valid = await idp.sign(rsa, claims());
    const [, validPayload, validSignature] = valid.split('.');
    const header = fc.record(
      {
        alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'HS256', 'none', 'PS256', 'EdDSA', 'RS512', ''), fc.string()),
        kid: fc.oneof(fc.constantFrom('k1', 'e1', 'o1'), fc.string({ maxLength: 300 })),
        typ: fc.constantFrom('JWT', 'at+jwt'),
        jwk: fc.constant(rsa.publicJwk),
        crit: fc.constant(['exp']),
      },
      { requiredKeys: ['alg'] },
    );
    const signature = fc.oneof(
      fc.constant(validSignature!),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.constant(''),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.boolean(), signature, async (hdr, samePayload, sig) => {
        const payload = samePayload ? validPayload! : b64(claims({ iss: idp.issuer, exp: now() + 1000 }));
        const signingInput = `${b64(hdr)}.${payload}`;
        const hmac = createHmac('sha256', String(rsa.publicJwk.n)).update(signingInput).digest('base64url');
        for (const token of [`${signingInput}.${sig}`, `${signingInput}.${hmac}`]) {
          const result = await outcome(h, token);
          expect(result, token).toMatch(/^(7|16|14) /);
        }
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it('fuzz: one changed character of a valid token verifies as the same token or not at all (fixed seed)', async () => {
    const h = await harness({}, { tokenCacheSize: 0 });
    const valid = await idp.sign(rsa, claims());
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), fc.constantFrom(...'ABCabc012-_.=+/ '.split('')), async (at, ch) => {
        const token = valid.slice(0, at) + ch + valid.slice(at + 1);
        const result = await outcome(h, token);
        if (result === 'manage') expect(decodedParts(token)).toEqual(decodedParts(valid));
        else expect(result).toMatch(/^(7|16) /);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('keys, fetched well', () => {
  it('a rotated key: the new kid triggers a refetch, the old one works while still published', async () => {
    const h = await harness();
    expect(await outcome(h, await idp.sign(rsa, claims()))).toBe('manage');
    idp.published = [rsa, rsaNext, ec];
    expect(await outcome(h, await idp.sign(rsaNext, claims()))).toBe('manage');
    expect(await outcome(h, await idp.sign(rsa, claims({ jti: 'fresh' })))).toBe('manage');
  });

  it('a key withdrawn from the set: cached tokens signed with it are refused once the set changes', async () => {
    idp.published = [rsa, rsaNext, ec];
    const h = await harness();
    const token = await idp.sign(rsaNext, claims());
    const unchanged = await idp.sign(rsa, claims());
    expect(await outcome(h, token)).toBe('manage');
    expect(await outcome(h, unchanged)).toBe('manage');
    idp.published = [rsa, ec];
    h.clock.now += 10_001;
    expect(await outcome(h, await idp.sign({ ...rsa, kid: 'unknown' }, claims()))).toMatch(/unknown/); // prompts a refetch
    expect(await outcome(h, token)).toBe(`${UNAUTHENTICATED} Invalid JWT: the signing key is unknown`);
    expect(await outcome(h, unchanged)).toBe('manage');
    expect(h.outcomes.slice(-2)).toEqual(['idp unknown_key', 'idp ok']); // verified again, not served from the cache
  });

  it('start-up with the IdP down: its tokens are UNAVAILABLE, Qdrant tokens keep working; it recovers', async () => {
    idp.behaviour = { kind: 'status', status: 503 };
    const h = await harness();
    expect(h.sources.statuses().find((s) => s.provider === 'idp')).toMatchObject({ usable: false, keys: 0, lastError: `${idp.jwksUri} answered HTTP 503` });
    const token = await idp.sign(rsa, claims());
    expect(await outcome(h, token)).toBe(`${UNAVAILABLE} Invalid JWT: the identity provider's signing keys are not available`);
    const qdrantToken = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(QDRANT_KEY));
    expect(await outcome(h, qdrantToken)).toBe('manage');
    idp.behaviour = { kind: 'keys' };
    h.clock.now += 10_001; // the unknown-kid gate also paces fetches while there are no keys
    expect(await outcome(h, token)).toBe('manage');
  });

  it('the last good set serves up to max_stale_seconds past its lifetime, then tokens are refused (cached ones too)', async () => {
    const h = await harness({ jwks: { ca_cert: certs.path('ca.pem'), cache_seconds: 60, max_stale_seconds: 120 } });
    const token = await idp.sign(rsa, claims({ exp: now() + 3600 }));
    expect(await outcome(h, token)).toBe('manage');
    idp.behaviour = { kind: 'status', status: 500 };
    h.clock.now += 170_000;
    expect(await outcome(h, token)).toBe('manage');
    h.clock.now += 11_000;
    expect(await outcome(h, token)).toBe(`${UNAVAILABLE} Invalid JWT: the identity provider's signing keys are not available`);
    expect(h.outcomes.at(-1)).toBe('idp keys_unavailable');
  });

  it('a JWKS that is malformed, huge, slow, of unsupported keys, a redirect, or an error is not taken', async () => {
    const cases: [TestIdp['behaviour'], string][] = [
      [{ kind: 'body', body: '{"keys": [' }, 'is not JSON'],
      [{ kind: 'body', body: JSON.stringify({ keys: [], pad: 'x'.repeat(2 * 1024 * 1024) }) }, 'is over 1048576 bytes'],
      [{ kind: 'hang' }, 'did not answer within 500 ms'],
      [
        {
          kind: 'body',
          body: JSON.stringify({
            keys: [
              { kty: 'oct', k: 'c2VjcmV0' },
              { kty: 'RSA', use: 'enc', n: 'AQAB', e: 'AQAB' },
            ],
          }),
        },
        'no usable signing key among 2',
      ],
      [{ kind: 'body', body: JSON.stringify({ nokeys: true }) }, 'not a JWKS'],
      [{ kind: 'redirect', location: other.jwksUri }, `a redirect to ${other.jwksUri} (not followed)`],
      [{ kind: 'status', status: 404 }, 'answered HTTP 404'],
    ];
    for (const [behaviour, message] of cases) {
      idp.behaviour = behaviour;
      const h = await harness();
      const status = h.sources.statuses().find((s) => s.provider === 'idp')!;
      expect(status.usable, message).toBe(false);
      expect(status.lastError, message).toContain(message);
      h.sources.stop();
    }
  });

  it('a jwks_file: a regular file only, within the size cap; a FIFO or a huge file is refused, not waited on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qap-jwks-file-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(readJsonFile(fifo, { timeoutMs: 200, maxBytes: 1024 })).rejects.toThrow(`${fifo} is not a regular file`);
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, JSON.stringify({ keys: [], pad: 'x'.repeat(4096) }));
    await expect(readJsonFile(huge, { timeoutMs: 1000, maxBytes: 1024 })).rejects.toThrow(/huge\.json is \d+ bytes, over 1024/);
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [rsa.publicJwk] }));
    const h = await harness({ jwks_uri: null, jwks_file: file });
    expect(await outcome(h, await idp.sign(rsa, claims()))).toBe('manage');
  });

  it('URLs in fetch errors lose any user:password and query (they reach logs and /readyz)', async () => {
    expect(displayUrl('https://user:pw@sso.example.com:8443/keys?token=abc#x')).toBe('https://sso.example.com:8443/keys');
    expect(displayUrl('/next?sig=1', 'https://sso.example.com/jwks')).toBe('https://sso.example.com/next');
    idp.behaviour = { kind: 'redirect', location: 'https://admin:secret@elsewhere.example.com/jwks?token=abc' };
    const h = await harness();
    const status = h.sources.statuses().find((s) => s.provider === 'idp')!;
    expect(status.lastError).toBe(`${idp.jwksUri} answered a redirect to https://elsewhere.example.com/jwks (not followed)`);
  });

  it('discovery: the jwks_uri of the issuer document, whose issuer must match', async () => {
    const h = await harness({ jwks_uri: null, discovery: true });
    expect(await outcome(h, await idp.sign(rsa, claims()))).toBe('manage');
  });

  it('a reload keeps unchanged key sets (no refetch) and stops removed ones', async () => {
    const config = (extra: Record<string, unknown>) =>
      parseConfig({
        auth: {
          jwt_providers: [
            { name: 'idp', issuer: idp.issuer, audiences: ['q'], jwks_uri: idp.jwksUri, access_claim: 'a', jwks: { ca_cert: certs.path('ca.pem') }, ...extra },
          ],
        },
      });
    const sources = new KeySources({ now: Date.now, logger: silent, onFetch: () => undefined });
    try {
      const first = buildProviders(config({}).auth.jwt_providers, sources);
      await until(() => sources.statuses()[0]!.keys > 0, 10_000, 'keys');
      const fetches = idp.jwksFetches;
      const second = buildProviders(config({ audiences: ['other'] }).auth.jwt_providers, sources);
      expect(second.get(idp.issuer)!.currentKeys()).not.toBeNull();
      expect(second.get(idp.issuer)!.currentKeys()).toBe(first.get(idp.issuer)!.currentKeys());
      expect(idp.jwksFetches).toBe(fetches);
      buildProviders(config({ jwks: { ca_cert: certs.path('ca.pem'), cache_seconds: 99 } }).auth.jwt_providers, sources);
      await until(() => idp.jwksFetches === fetches + 1, 10_000, 'a changed key source fetches anew');
      buildProviders([], sources);
      expect(sources.statuses()).toEqual([]);
    } finally {
      sources.stop();
    }
  });

  it('a reload refused for an unreadable CA file starts nothing and keeps the sets in force', async () => {
    const provider = (name: string, ca: string) => ({
      name,
      issuer: `https://${name}`,
      audiences: ['q'],
      jwks_uri: idp.jwksUri,
      access_claim: 'a',
      jwks: { ca_cert: ca },
    });
    const sources = new KeySources({ now: Date.now, logger: silent, onFetch: () => undefined });
    try {
      buildProviders(parseConfig({ auth: { jwt_providers: [provider('kept', certs.path('ca.pem'))] } }).auth.jwt_providers, sources);
      const before = sources.statuses();
      const next = parseConfig({ auth: { jwt_providers: [provider('new', certs.path('ca.pem')), provider('broken', '/nonexistent/ca.pem')] } });
      await until(() => sources.statuses()[0]!.keys > 0, 10_000, 'keys');
      const fetches = idp.jwksFetches;
      expect(() => buildProviders(next.auth.jwt_providers, sources)).toThrow('auth.jwt_providers broken: cannot read jwks.ca_cert /nonexistent/ca.pem: ENOENT');
      expect(sources.statuses().map((s) => s.provider)).toEqual(before.map((s) => s.provider));
      // A fetch made after the refusal is the only one the IdP sees (a source started for `new` would have fetched first).
      const probe = new KeySources({ now: Date.now, logger: silent, onFetch: () => undefined });
      buildProviders(parseConfig({ auth: { jwt_providers: [provider('probe', certs.path('ca.pem'))] } }).auth.jwt_providers, probe);
      await until(() => probe.statuses()[0]!.keys > 0, 10_000, 'probe keys');
      probe.stop();
      expect(idp.jwksFetches).toBe(fetches + 1);
    } finally {
      sources.stop();
    }
  });

  it('buildEngine refuses providers without key sources (a wiring error, not a silent no-auth)', () => {
    const config = parseConfig({ auth: { jwt_providers: [{ name: 'x', issuer: 'https://x', audiences: ['q'], discovery: true, access_claim: 'a' }] } });
    const deps = {
      api: {} as never,
      rules: new Map(),
      scroll: async () => ({ ok: true as const, notFound: false, pointCount: 1 }),
      logger: silent,
      tenant: {} as never,
      ownedIds: async () => ({ ids: new Set<string>(), shardKeys: new Set<string>() }),
    };
    expect(() => buildEngine(config, deps)).toThrow(/key sources/);
  });
});

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodedParts(token: string): string[] {
  return token.split('.').map((part) => Buffer.from(part, 'base64url').toString('hex'));
}
