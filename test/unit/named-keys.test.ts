import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AuthFiles } from '../../src/auth/auth-files.js';
import { AuthFileError } from '../../src/auth/auth-yaml.js';
import { Authenticator } from '../../src/auth/authenticate.js';
import { CertificateIdentities } from '../../src/auth/client-certificate.js';
import { createKey, hashKey, keyIdOf } from '../../src/auth/named-keys/key-format.js';
import { NamedKeyStore } from '../../src/auth/named-keys/key-store.js';
import { parseKeysFile } from '../../src/auth/named-keys/keys-file.js';
import { parseRevocationsFile, Revocations } from '../../src/auth/revocations.js';
import { parseConfig } from '../../src/config/load.js';
import type { ProxyError } from '../../src/errors.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { hs256, rawHs256 } from '../helpers/tokens.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const MASTER = 'the-master-key-of-the-named-keys-test';

describe('key format', () => {
  it('qap_<id>_<43 base64url characters>; the id is read back, nothing else is a named key', () => {
    const key = createKey('billing-svc');
    expect(key).toMatch(/^qap_billing-svc_[A-Za-z0-9_-]{43}$/);
    expect(keyIdOf(key)).toBe('billing-svc');
    expect(hashKey(key)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(createKey('a')).not.toBe(createKey('a'));
    for (const bad of [
      'qap_',
      'qap_x',
      `qap__${'a'.repeat(43)}`,
      `qap_x_${'a'.repeat(42)}`,
      `qap_x_${'a'.repeat(44)}`,
      `QAP_x_${'a'.repeat(43)}`,
      `qap_x_${'a'.repeat(42)}=`,
      'eyJ.x.y',
    ])
      expect(keyIdOf(bad), bad).toBeNull();
    expect(() => createKey('has_underscore')).toThrow(/key id/);
  });
});

const key1 = createKey('svc-a');
const key2 = createKey('svc-b');
const file = (entries: string) => `keys:\n${entries}`;
const entry = (id: string, key: string, extra = '') => `  - id: ${id}\n    hash: ${hashKey(key)}\n    access: r\n${extra}`;

describe('keys file', () => {
  it('reads ids, hashes, access, validity, subject', () => {
    const keys = parseKeysFile(
      file(
        entry(
          'svc-a',
          key1,
          '    expires_at: 2027-03-01T00:00:00Z\n    not_before: 2026-11-01T00:00:00+02:00\n    subject: billing\n    description: the billing service\n',
        ) + `  - id: svc-b\n    hash: ${hashKey(key2)}\n    access: [{collection: c1, access: rw}]\n`,
      ),
      'keys.yaml',
      NOW,
    );
    expect(keys.map((k) => [k.id, k.subject, k.expiresAt, k.notBefore])).toEqual([
      ['svc-a', 'billing', Date.parse('2027-03-01T00:00:00Z'), Date.parse('2026-10-31T22:00:00Z')],
      ['svc-b', 'svc-b', null, null],
    ]);
    expect(keys[1]!.access).toEqual([{ collection: 'c1', access: 'rw' }]);
    expect(parseKeysFile('keys: []\n', 'k', NOW)).toEqual([]);
    expect(parseKeysFile('keys:\n', 'k', NOW)).toEqual([]);
  });

  it.each([
    [file(entry('svc-a', key1) + entry('svc-a', key2)), 'keys[1] (id svc-a): id svc-a is listed twice'],
    [file(entry('svc-a', key1) + entry('svc-b', key1)), 'keys[1] (id svc-b): the same hash as id svc-a'],
    [file('  - id: svc-a\n    hash: sha256:abc\n    access: r\n'), 'keys[0] (id svc-a): hash must be sha256: and 64 lowercase hex digits'],
    [file(`  - id: svc-a\n    hash: ${key1}\n    access: r\n`), 'keys[0] (id svc-a): hash holds a key, not its hash'],
    [file(`  - id: svc-a\n    hash: ${hashKey(key1)}\n    access: rw\n`), 'keys[0] (id svc-a): access: expected m, r, or a JSON list'],
    [
      file(`  - id: svc-a\n    hash: ${hashKey(key1)}\n    access: [{collection: c, access: w}]\n`),
      'keys[0] (id svc-a): access[0].access: expected "r", "rw" or "prw"',
    ],
    [file(entry('svc-a', key1, '    expires_at: 2026-01-01T00:00:00Z\n')), 'keys[0] (id svc-a): expires_at 2026-01-01T00:00:00Z has passed'],
    [file(entry('svc-a', key1, '    expires_at: 2027-02-30T00:00:00Z\n')), 'keys[0] (id svc-a): expires_at: expected an RFC 3339 time'],
    [file(entry('svc-a', key1, '    expires_at: tomorrow\n')), 'expected an RFC 3339 time'],
    [file(entry('svc-a', key1, '    secret: x\n')), 'keys[0] (id svc-a): unknown field "secret"'],
    [file(entry('bad_id', key1)), 'keys.yaml: keys[0]: id must be 1-64 letters'],
    [file(entry(key1, key1)), 'keys.yaml: keys[0]: id must be 1-64 letters'],
    ['keys: {a: 1}\n', 'keys.yaml: "keys" must be a list'],
    ['other: []\n', 'expected a mapping with one key, "keys"'],
    ['keys: [\n', 'keys.yaml: not valid YAML'],
    ['keys: []\nkeys: []\n', 'not valid YAML'],
  ])('%#: refused, naming the entry', (text, message) => {
    expect(() => parseKeysFile(text, 'keys.yaml', NOW)).toThrow(AuthFileError);
    expect(() => parseKeysFile(text, 'keys.yaml', NOW)).toThrow(message);
  });
});

describe('named key store', () => {
  const uses: string[] = [];
  const store = new NamedKeyStore(
    parseKeysFile(
      file(entry('svc-a', key1, '    expires_at: 2026-12-02T00:00:00Z\n    not_before: 2026-12-01T06:00:00Z\n')) +
        `  - id: svc-b\n    hash: ${hashKey(key2)}\n    access: m\n    subject: ops\n`,
      'k',
      NOW,
    ),
    (use) => uses.push(`${use.id} ${use.outcome}`),
  );
  const digestOf = (key: string) => Buffer.from(hashKey(key).slice(7), 'hex');
  const outcome = (key: string, now = NOW) => {
    try {
      const p = store.authenticate(keyIdOf(key)!, digestOf(key), now);
      return `${p.access} ${p.keyId} ${p.subject}`;
    } catch (err) {
      return (err as ProxyError).message;
    }
  };

  it('the right key: its principal; a wrong secret, an unknown id, outside its validity: refused', () => {
    expect(outcome(key1)).toBe('read svc-a svc-a');
    expect(outcome(key2)).toBe('manage svc-b ops');
    expect(outcome(`qap_svc-a_${key2.slice(-43)}`)).toBe('Invalid API key or JWT');
    expect(outcome(`qap_svc-c_${key1.slice(-43)}`)).toBe('Invalid API key or JWT');
    expect(outcome(key1, Date.parse('2026-12-02T00:00:00Z'))).toBe('API key has expired');
    expect(outcome(key1, Date.parse('2026-12-01T05:59:59Z'))).toBe('API key is not valid yet');
    expect(uses).toEqual(['svc-a ok', 'svc-b ok', 'svc-a wrong_secret', 'null unknown', 'svc-a expired', 'svc-a not_yet_valid']);
    expect(store.soonestExpirySeconds(NOW)).toBe(12 * 3600);
    expect(store.expiringWithin(NOW, 24 * 3600 * 1000).map((k) => k.id)).toEqual(['svc-a']);
  });

  it('the time taken does not depend on how much of the secret matched (interleaved batches, medians)', () => {
    const id = keyIdOf(key1)!;
    const secret = key1.slice(-43);
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const firstWrong = `qap_${id}_${flip(secret[0]!)}${secret.slice(1)}`;
    const lastWrong = `qap_${id}_${secret.slice(0, 42)}${flip(secret[42]!)}`;
    // The whole authenticate step as a call makes it: hash the presented key, look it up, compare.
    const run = (key: string, n: number) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        try {
          store.authenticate(id, digestOf(key), NOW);
        } catch {
          // refused, as expected
        }
      }
      return Number(process.hrtime.bigint() - start);
    };
    run(firstWrong, 2000);
    run(lastWrong, 2000);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 41; i++) {
      a.push(run(firstWrong, 500));
      b.push(run(lastWrong, 500));
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratio = median(a) / median(b);
    // An early-exit comparison of the secret would make the nearly-right key measurably slower; the
    // digests compared in constant time make the two equal but for noise.
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1 / 0.75);
  });
});

describe('revocations', () => {
  const revocations = parseRevocationsFile(
    [
      'jti: [t-1]',
      'subjects: [mallory]',
      'key_ids: [svc-a]',
      `token_sha256: [${'ab'.repeat(32)}]`,
      'issued_before: [{subject: bob, before: 2026-12-01T00:00:00Z}]',
    ].join('\n'),
    'rev.yaml',
  );
  const p = (extra: object) => ({ access: 'read' as const, authType: 'Jwt' as const, ...extra });

  it('names what matched: jti, subject (sub or subject), key id, credential digest, issued before', () => {
    expect(revocations.reason(p({ jti: ['t-1'] }), null)).toBe('jti');
    expect(revocations.reason(p({ jti: ['t-2', 't-1'] }), null)).toBe('jti');
    expect(revocations.reason(p({ subject: 'x', subjects: ['x', 'mallory'] }), null)).toBe('subject');
    expect(revocations.reason({ access: 'manage', authType: 'ApiKey', keyId: 'svc-a', subject: 'svc-a' }, null)).toBe('key_id');
    expect(revocations.reason(p({}), Buffer.from('ab'.repeat(32), 'hex'))).toBe('token_sha256');
    expect(revocations.reason(p({ subject: 'bob', issuedAt: Date.parse('2026-11-30T23:59:59Z') / 1000 }), null)).toBe('issued_before');
    expect(revocations.reason(p({ subject: 'bob' }), null)).toBe('issued_before'); // no iat: cannot show it is newer
    expect(revocations.reason(p({ subject: 'bob', issuedAt: Date.parse('2026-12-01T00:00:00Z') / 1000 }), null)).toBeNull();
    expect(revocations.reason({ access: 'manage', authType: 'ApiKey', keyId: 'bob-key', subject: 'bob' }, null)).toBeNull();
    expect(revocations.reason(p({ jti: ['t-2'], subject: 'alice' }), Buffer.alloc(32))).toBeNull();
    expect(Revocations.NONE.reason(p({ jti: ['t-1'] }), null)).toBeNull();
  });

  it('YAML aliases of lists or mappings are refused at once (an alias bomb is a few hundred bytes); a scalar alias is harmless', () => {
    const levels = ['&a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `&a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const bomb = `jti: [${levels.join(', ')}]`;
    const started = performance.now();
    expect(() => parseRevocationsFile(bomb, 'rev.yaml')).toThrow('rev.yaml: YAML aliases (*name) of lists or mappings are not accepted');
    expect(() => parseKeysFile(`keys: [${levels.join(', ')}]`, 'keys.yaml', NOW)).toThrow('keys.yaml: YAML aliases');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(parseRevocationsFile('jti: [&j t-1, *j]', 'rev.yaml').reason(p({ jti: ['t-1'] }), null)).toBe('jti');
  });

  it.each([
    ['jti: t-1', 'rev.yaml: jti must be a list'],
    ['jti: [""]', 'rev.yaml: jti[0]: expected a non-empty string'],
    ['token_sha256: [ABCD]', 'token_sha256[0]: expected 64 lowercase hex digits'],
    ['issued_before: [{subject: bob}]', 'issued_before[0]: before is required'],
    ['issued_before: [{subject: bob, before: yesterday}]', 'issued_before[0].before: expected an RFC 3339 time'],
    ['subject: [x]', 'rev.yaml: unknown field "subject"'],
    ['key_ids: [qap_svc-a_0123456789012345678901234567890123456789012]', 'key_ids[0]: a key, not an id'],
    [
      'token_sha256: [eyJhbGciOiJIUzI1NiJ9.e30.sig]',
      'token_sha256[0]: expected 64 lowercase hex digits (sha256sum of the credential), got (a credential: treat it as leaked)',
    ],
  ])('%j is refused with the field named', (text, message) => {
    expect(() => parseRevocationsFile(text, 'rev.yaml')).toThrow(message);
  });
});

describe('Authenticator with named keys and revocations', () => {
  const store = new NamedKeyStore(parseKeysFile(file(entry('svc-a', key1)), 'k', NOW));
  const auth = (revocations = Revocations.NONE) =>
    new Authenticator({
      apiKey: MASTER,
      altApiKey: null,
      readOnlyApiKey: null,
      jwtRbac: true,
      maxCredentialBytes: 16384,
      tokenCacheSize: 100,
      certificateIdentities: new CertificateIdentities({}),
      providers: new Map(),
      namedKeys: store,
      revocations,
      now: () => NOW,
    });
  const bearer = (v: string) => RequestMetadata.of({ authorization: `Bearer ${v}` });
  const outcome = async (a: Authenticator, v: string) => {
    try {
      return (await a.authenticate(bearer(v))).access;
    } catch (err) {
      return (err as ProxyError).message;
    }
  };

  it('a named key is presented like any Qdrant key; the master key and JWTs work as before', async () => {
    const a = auth();
    expect(await outcome(a, key1)).toBe('read');
    expect((await a.authenticate(RequestMetadata.of({ 'api-key': key1 }))).keyId).toBe('svc-a');
    expect(await outcome(a, MASTER)).toBe('manage');
    expect(await outcome(a, await hs256({ access: 'r' }, MASTER))).toBe('read');
  });

  it('a revocation applies to cached tokens too, and to named keys', async () => {
    const token = await hs256({ access: 'r', jti: 'j-9', sub: 'alice' }, MASTER);
    const before = auth();
    expect(await outcome(before, token)).toBe('read');
    const revoked = parseRevocationsFile('jti: [j-9]\nkey_ids: [svc-a]', 'r');
    const after = auth(revoked);
    expect(await outcome(after, token)).toBe('Credential has been revoked');
    // Verified and cached by the first call: the cache hit is checked too.
    expect(await outcome(after, token)).toBe('Credential has been revoked');
    expect(await outcome(after, key1)).toBe('Credential has been revoked');
    expect(await outcome(after, MASTER)).toBe('manage');
    const bySubject = auth(parseRevocationsFile('subjects: [alice]', 'r'));
    expect(await outcome(bySubject, token)).toBe('Credential has been revoked');
    const byDigest = auth(parseRevocationsFile(`token_sha256: [${hashKey(token).slice(7)}]`, 'r'));
    expect(await outcome(byDigest, token)).toBe('Credential has been revoked');
  });

  it('a repeated jti claim cannot slip past a revocation (Qdrant ignores the claim; the proxy reads every value)', async () => {
    const token = rawHs256('{"access":"r","jti":"ok-1","jti":"j-9"}', MASTER);
    expect(await outcome(auth(), token)).toBe('read');
    expect(await outcome(auth(parseRevocationsFile('jti: [j-9]', 'r')), token)).toBe('Credential has been revoked');
  });
});

describe('auth files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qap-auth-files-'));
  const keysFile = join(dir, 'keys.yaml');
  const revocationsFile = join(dir, 'revocations.yaml');
  const auth = { ...parseConfig({}).auth, keys_file: keysFile, revocations_file: revocationsFile };

  it('an auth file must be a regular file no other user may write', () => {
    const files = new AuthFiles({ logger: pino({ level: 'silent' }), now: () => NOW, onKeyUse: () => undefined, onChange: () => undefined });
    try {
      const fifo = join(dir, 'fifo.yaml');
      execFileSync('mkfifo', [fifo]);
      expect(() => files.configure({ ...auth, keys_file: fifo, revocations_file: null })).toThrow(`${fifo} is not a regular file`);
      const open = join(dir, 'open.yaml');
      writeFileSync(open, 'keys: []\n');
      chmodSync(open, 0o646);
      expect(() => files.configure({ ...auth, keys_file: open, revocations_file: null })).toThrow('may be written by every user (mode 0646)');
    } finally {
      files.stop();
    }
  });

  it('a key that expired since its file was accepted never blocks a reload, nor a revocation; a new file holding it is refused', () => {
    const clock = { now: NOW };
    writeFileSync(keysFile, file(entry('svc-a', key1, '    expires_at: 2026-12-01T13:00:00Z\n') + entry('svc-b', key2)));
    writeFileSync(revocationsFile, '');
    const files = new AuthFiles({ logger: pino({ level: 'silent' }), now: () => clock.now, onKeyUse: () => undefined, onChange: () => undefined });
    try {
      const first = files.configure(auth);
      clock.now = Date.parse('2026-12-01T14:00:00Z');
      writeFileSync(revocationsFile, 'key_ids: [svc-b]\n');
      const second = files.configure(auth); // a SIGHUP: the keys file is unchanged, the revocations are new
      expect(second.keys).toBe(first.keys);
      expect(second.revocations.reason({ access: 'read', authType: 'ApiKey', keyId: 'svc-b' }, null)).toBe('key_id');
      expect(() => second.keys!.authenticate('svc-a', Buffer.from(hashKey(key1).slice(7), 'hex'), clock.now)).toThrow('API key has expired');
      writeFileSync(keysFile, `${readFileSync(keysFile, 'utf8')}  - id: svc-c\n    hash: ${hashKey(createKey('svc-c'))}\n    access: r\n`);
      expect(() => files.configure(auth)).toThrow('keys[0] (id svc-a): expires_at 2026-12-01T13:00:00Z has passed');
      expect(files.state).toBe(second);
    } finally {
      files.stop();
    }
  });
});
