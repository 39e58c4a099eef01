import { describe, expect, it } from 'vitest';
import { authorizeCollections } from '../../src/access/authorize.js';
import { compileRules } from '../../src/access/compile-rules.js';
import { filterReply } from '../../src/access/filter-reply.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { Authenticator } from '../../src/auth/authenticate.js';
import { CertificateIdentities } from '../../src/auth/client-certificate.js';
import { createKey, hashKey } from '../../src/auth/named-keys/key-format.js';
import { parseKeysFile } from '../../src/auth/named-keys/keys-file.js';
import { grantedMode, type Principal, principalFromGrant, tenantOf } from '../../src/auth/principal.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import { ProxyError } from '../../src/errors.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { hs256, rawHs256 } from '../helpers/tokens.js';

const KEY = 'tenant-grants-test-master-key-0123456789';
const api = loadQdrantApi();
const rules = compileRules(api);
const encode = (path: string, value: object) => api.methods.get(path)!.request!.encode(value);

function auth(options: { tenantIsolation?: boolean; collectionPatterns?: boolean }): Authenticator {
  return new Authenticator({
    apiKey: KEY,
    altApiKey: null,
    readOnlyApiKey: null,
    jwtRbac: true,
    tokenOptions: options,
    maxCredentialBytes: 16384,
    tokenCacheSize: 0,
    certificateIdentities: new CertificateIdentities({}),
    providers: new Map(),
    now: () => Date.now(),
  });
}
const principalOf = async (a: Authenticator, token: string) => a.authenticate(RequestMetadata.of({ authorization: `Bearer ${token}` }));

describe('collection patterns', () => {
  const p = principalFromGrant(
    [
      { collection: 'shared-*', access: 'r' },
      { collection: 'shared-admin*', access: 'rw' },
      { collection: 'shared-fixed', access: 'prw' },
    ],
    { authType: 'ApiKey' },
    { patterns: true },
  ) as Extract<Principal, { access: 'collections' }>;

  it('a name beats a pattern; the longest pattern beats a shorter one; no match, no access', () => {
    expect(grantedMode(p, 'shared-fixed')).toBe('prw');
    expect(grantedMode(p, 'shared-admin-1')).toBe('rw');
    expect(grantedMode(p, 'shared-x')).toBe('r');
    expect(grantedMode(p, 'shared')).toBeUndefined();
    expect(grantedMode(p, 'other')).toBeUndefined();
    const count = (name: string) => () =>
      authorizeCollections(rules.get('/qdrant.Points/Count')!, p, encode('/qdrant.Points/Count', { collection_name: name }));
    expect(count('shared-x')).not.toThrow();
    expect(count('other')).toThrow('Forbidden: Access to collection other is required');
  });

  it('lists are filtered by pattern (an alias by its own name, never by where it points)', () => {
    const list = api.methods.get('/qdrant.Collections/ListAliases')!.response!;
    const reply = list.encode({
      aliases: [
        { alias_name: 'shared-alias', collection_name: 'shared-a' },
        { alias_name: 'shared-alias-2', collection_name: 'private' },
        { alias_name: 'private-alias', collection_name: 'shared-a' },
      ],
    });
    const out = list.decode(filterReply('aliases', { has: (name) => grantedMode(p, name) !== undefined }, reply, list));
    expect((out.aliases as { alias_name: string }[]).map((a) => a.alias_name)).toEqual(['shared-alias']);
  });

  it("Qdrant's own tokens: `*` is literal unless auth.collection_patterns", async () => {
    const token = await hs256({ access: [{ collection: 'team-*', access: 'r' }] }, KEY);
    const literal = (await principalOf(auth({}), token)) as Extract<Principal, { access: 'collections' }>;
    expect(grantedMode(literal, 'team-a')).toBeUndefined();
    expect(grantedMode(literal, 'team-*')).toBe('r');
    const patterned = (await principalOf(auth({ collectionPatterns: true }), token)) as Extract<Principal, { access: 'collections' }>;
    expect(grantedMode(patterned, 'team-a')).toBe('r');
  });
});

describe('tenant-bound grants', () => {
  it("Qdrant's own tokens: payload read as the tenant with tenant isolation (keys are payload paths, integers exact), refused without it", async () => {
    const token = rawHs256('{"access":[{"collection":"docs","access":"rw","payload":{"org.id":9007199254740993,"tenant":"acme"}}]}', KEY);
    const p = await principalOf(auth({ tenantIsolation: true }), token);
    expect(tenantOf(p, 'docs')).toEqual([
      { key: 'org.id', value: 9007199254740993n },
      { key: 'tenant', value: 'acme' },
    ]);
    expect(tenantOf(p, 'other')).toBeNull();
    await expect(principalOf(auth({}), token)).rejects.toThrow("access[0].payload: The 'payload' constraint is deprecated and should not be used");
    for (const bad of [
      '{"tenant":1.5}',
      '{"tenant":[1]}',
      '{"tenant":null}',
      '{}',
      '{"a..b":"x"}',
      '{"tenant":"a","tenant":"b"}',
      '{"\\"a.b\\"":"x"}',
      '{"tenant[0]":"x"}',
      '{"$.tenant":"x"}',
      '{"ten ant":"x"}',
    ]) {
      const t = rawHs256(`{"access":[{"collection":"docs","access":"r","payload":${bad}}]}`, KEY);
      await expect(principalOf(auth({ tenantIsolation: true }), t), bad).rejects.toThrow(ProxyError);
    }
    // Writes are checked against a key's first segment: quoted or indexed tenant keys would blur it.
    const quoted = rawHs256('{"access":[{"collection":"docs","access":"r","payload":{"\\"a.b\\"":"x"}}]}', KEY);
    await expect(principalOf(auth({ tenantIsolation: true }), quoted)).rejects.toThrow('access[0].payload: expected {"payload key"');
    const keysFile = `keys:\n  - id: q\n    hash: ${hashKey(createKey('q'))}\n    access: [{collection: docs, access: r, payload: {'"a.b"': x}}]\n`;
    expect(() => parseKeysFile(keysFile, 'keys.yaml', Date.now(), { tenantIsolation: true })).toThrow(
      'access[0].payload: "\\"a.b\\"" is not a plain payload key (e.g. "tenant" or "org.id"; quoted or indexed paths are not taken)',
    );
  });

  it('named keys and patterns: a key may be bound to a tenant on every collection a pattern names', () => {
    const key = createKey('tenant-key');
    const text = `keys:\n  - id: tenant-key\n    hash: ${hashKey(key)}\n    access: [{collection: "acme-*", access: rw, payload: {tenant: acme}}]\n`;
    expect(() => parseKeysFile(text, 'keys.yaml', Date.now())).toThrow("keys[0] (id tenant-key): access[0].payload: The 'payload' constraint is deprecated");
    const [parsed] = parseKeysFile(text, 'keys.yaml', Date.now(), { tenantIsolation: true });
    const p = principalFromGrant(parsed!.access, { authType: 'ApiKey', keyId: 'tenant-key' }, { patterns: true });
    expect(tenantOf(p, 'acme-docs')).toEqual([{ key: 'tenant', value: 'acme' }]);
    expect(tenantOf(p, 'globex-docs')).toBeNull();
  });

  it('config: a tenant in a certificate identity or provider rule needs auth.tenant_isolation', () => {
    const identity = { 'svc.example': [{ collection: 'docs', access: 'r', payload: { tenant: 'acme' } }] };
    const raw = {
      service: { api_key: KEY, enable_tls: true, verify_https_client_certificate: true },
      tls: { cert: '/c', key: '/k', ca_cert: '/ca' },
      auth: { client_cert_identities: identity },
    };
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow("auth.client_cert_identities.svc.example: a grant's payload (a tenant) needs auth.tenant_isolation: true");
    const ok = parseConfig({ ...raw, auth: { ...raw.auth, tenant_isolation: true } });
    const p = new CertificateIdentities(ok.auth.client_cert_identities).principalFor({ subject: { CN: 'svc.example' } } as never)!;
    expect(tenantOf(p, 'docs')).toEqual([{ key: 'tenant', value: 'acme' }]);
  });
});
