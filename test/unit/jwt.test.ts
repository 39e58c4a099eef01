import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { Authenticator, type AuthSettings } from '../../src/auth/authenticate.js';
import { CertificateIdentities } from '../../src/auth/client-certificate.js';
import { ProxyError } from '../../src/errors.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';

const KEY = 'my_top_secret_key';
const ALT = 'my_alternative_secret_key';
const RO = 'boo-hoo, this can only read!';
const NOW = 1_800_000_000_000; // fixed clock (ms)
const nowS = NOW / 1000;

function auth(over: Partial<AuthSettings> = {}): Authenticator {
  return new Authenticator({
    apiKey: KEY,
    altApiKey: ALT,
    readOnlyApiKey: RO,
    jwtRbac: true,
    maxCredentialBytes: 16384,
    tokenCacheSize: 100,
    certificateIdentities: new CertificateIdentities({}),
    providers: new Map(),
    now: () => NOW,
    ...over,
  });
}
const sign = (claims: object, secret = KEY, header: object = { alg: 'HS256' }) =>
  new SignJWT(claims as Record<string, unknown>).setProtectedHeader(header as { alg: string }).sign(new TextEncoder().encode(secret));
const bearer = (token: string) => RequestMetadata.of({ authorization: `Bearer ${token}` });
const apiKey = (key: string) => RequestMetadata.of({ 'api-key': key });
async function outcome(a: Authenticator, md: RequestMetadata): Promise<string> {
  try {
    const p = await a.authenticate(md);
    return p.access;
  } catch (err) {
    if (err instanceof ProxyError) return `${err.status} ${err.message}`;
    throw err;
  }
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('credentials (Qdrant order: key, alt key, read-only key, JWT)', () => {
  it('static keys', async () => {
    expect(await outcome(auth(), apiKey(KEY))).toBe('manage');
    expect(await outcome(auth(), apiKey(ALT))).toBe('manage');
    expect(await outcome(auth(), apiKey(RO))).toBe('read');
    expect(await outcome(auth(), bearer(RO))).toBe('read');
    expect(await outcome(auth(), apiKey('wrong'))).toBe('16 Invalid API key or JWT');
    expect(await outcome(auth(), apiKey(''))).toBe('16 Invalid API key or JWT');
  });

  it('no usable credential', async () => {
    expect(await outcome(auth(), RequestMetadata.of({}))).toBe('16 Must provide an API key or an Authorization bearer token');
    // The prefix is case-sensitive, as in Qdrant.
    expect(await outcome(auth(), RequestMetadata.of({ authorization: `bearer ${KEY}` }))).toBe('16 Must provide an API key or an Authorization bearer token');
    expect(await outcome(auth(), RequestMetadata.of({ authorization: `Token ${KEY}` }))).toBe('16 Must provide an API key or an Authorization bearer token');
  });

  it('differing credentials in one call are refused, equal ones accepted', async () => {
    const conflicting = '16 Conflicting credentials: send one API key or token per call';
    expect(await outcome(auth(), RequestMetadata.of({ 'api-key': KEY, authorization: `Bearer ${RO}` }))).toBe(conflicting);
    expect(await outcome(auth(), RequestMetadata.of({ 'api-key': KEY, authorization: `Bearer ${KEY}` }))).toBe('manage');
    expect(await outcome(auth(), RequestMetadata.of({ 'api-key': [RO, KEY] }))).toBe(conflicting);
    expect(await outcome(auth(), RequestMetadata.of({ 'api-key': [KEY, KEY] }))).toBe('manage');
  });

  it('oversized credentials are refused before any decoding', async () => {
    const big = await sign({ access: 'm', pad: 'x'.repeat(20_000) });
    expect(await outcome(auth(), bearer(big))).toBe('16 Invalid API key or JWT');
  });

  it('no keys configured: no auth at all', async () => {
    const open = auth({ apiKey: null, altApiKey: null, readOnlyApiKey: null });
    expect(open.enabled).toBe(false);
    expect(await outcome(open, RequestMetadata.of({}))).toBe('manage');
  });
});

describe('JWT (HS256, Qdrant outcomes)', () => {
  it('access claims', async () => {
    expect(await outcome(auth(), bearer(await sign({})))).toBe('manage'); // no access claim = manage
    expect(await outcome(auth(), bearer(await sign({ access: 'm' })))).toBe('manage');
    expect(await outcome(auth(), bearer(await sign({ access: 'r' })))).toBe('read');
    expect(await outcome(auth(), bearer(await sign({ access: [{ collection: 'c', access: 'prw' }] })))).toBe('collections');
    expect(await outcome(auth(), apiKey(await sign({ access: 'r' })))).toBe('read'); // api-key may carry a JWT
  });

  it('signed with the alt key', async () => {
    expect(await outcome(auth(), bearer(await sign({ access: 'r' }, ALT)))).toBe('read');
  });

  it('expiry with a 30 s leeway', async () => {
    expect(await outcome(auth(), bearer(await sign({ exp: nowS - 30 })))).toBe('manage');
    expect(await outcome(auth(), bearer(await sign({ exp: nowS - 31 })))).toBe('7 ExpiredSignature');
    expect(await outcome(auth(), bearer(await sign({ exp: nowS + 3600 })))).toBe('manage');
  });

  it("an expired token signed with the alt key reports the first secret's error, as Qdrant does", async () => {
    expect(await outcome(auth(), bearer(await sign({ exp: nowS - 100 }, ALT)))).toBe('7 InvalidSignature');
  });

  it('bad signature, other key', async () => {
    expect(await outcome(auth(), bearer(await sign({ access: 'm' }, 'some other key')))).toBe('7 InvalidSignature');
    const [h, p] = (await sign({ access: 'm' })).split('.');
    expect(await outcome(auth(), bearer(`${h}.${p}.`))).toBe('7 InvalidSignature');
  });

  it('algorithms other than HS256 are not JWTs', async () => {
    expect(await outcome(auth(), bearer(await sign({ access: 'm' }, KEY, { alg: 'HS512' })))).toBe('16 Invalid API key or JWT');
    const none = `${b64({ alg: 'none' })}.${b64({ access: 'm' })}.`;
    expect(await outcome(auth(), bearer(none))).toBe('16 Invalid API key or JWT');
  });

  it('malformed tokens', async () => {
    for (const token of ['a.b', 'a.b.c.d', '....', `${b64({ alg: 'HS256' })}=.${b64({})}.x`, `${b64('x')}.${b64({})}.sig`]) {
      expect(await outcome(auth(), bearer(token))).toBe('16 Invalid API key or JWT');
    }
    const nonStringHeader = await sign({ access: 'm' }, KEY, { alg: 'HS256', b64: true, crit: ['b64'] }).catch(() => null);
    if (nonStringHeader) expect(await outcome(auth(), bearer(nonStringHeader))).toBe('16 Invalid API key or JWT');
  });

  const wrongTypes = [
    { exp: '1' },
    { exp: 1.5 },
    { exp: -1 },
    { access: 'w' },
    { access: null },
    { access: [{ collection: 'c', access: 'x' }] },
    { sub: 5 },
    { value_exists: { collection: 'c', matches: [{ key: 'k', value: 1.5 }] } },
  ];

  it('claims of the wrong type are not JWTs', async () => {
    for (const claims of wrongTypes) {
      expect(await outcome(auth({ altApiKey: null }), bearer(await sign(claims)))).toBe('16 Invalid API key or JWT');
    }
  });

  it('with an alt key, the alt secret\'s signature error wins over "not a JWT" (Qdrant reports the first error)', async () => {
    for (const claims of wrongTypes) {
      expect(await outcome(auth(), bearer(await sign(claims)))).toBe('7 InvalidSignature');
    }
  });

  it('Qdrant claims validation', async () => {
    const dup = await sign({
      access: [
        { collection: 'a', access: 'r' },
        { collection: 'a', access: 'rw' },
      ],
    });
    expect(await outcome(auth(), bearer(dup))).toBe('16 access[1].collection: Collection name should be unique');
    const payload = await sign({ access: [{ collection: 'a', access: 'r', payload: { x: 1 } }] });
    expect(await outcome(auth(), bearer(payload))).toBe("16 access[0].payload: The 'payload' constraint is deprecated and should not be used");
  });

  it('JWTs are refused when jwt_rbac is off', async () => {
    expect(await outcome(auth({ jwtRbac: false }), bearer(await sign({ access: 'm' })))).toBe('16 Invalid API key or JWT');
  });

  it('a cached token is never served past its expiry', async () => {
    let now = NOW;
    const a = auth({ now: () => now });
    const token = await sign({ exp: nowS + 10 });
    expect(await outcome(a, bearer(token))).toBe('manage');
    now += 41_000; // exp + 31 s
    expect(await outcome(a, bearer(token))).toBe('7 ExpiredSignature');
  });
});

/** An HS256 token from raw header and payload JSON text (so repeated keys and odd numbers survive). */
const raw = (payload: string | Buffer, secret = KEY, header = '{"alg":"HS256"}') => {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

describe('JWT parsing as Qdrant parses (serde_json, jsonwebtoken 10)', () => {
  const only = () => auth({ altApiKey: null });
  const INVALID = '16 Invalid API key or JWT';

  it('a field given twice is refused (serde: duplicate field), unknown ones may repeat', async () => {
    for (const payload of [
      '{"access":"r","access":"m"}',
      '{"exp":1,"exp":2}',
      '{"sub":"a","sub":"b"}',
      '{"value_exists":null,"value_exists":null}',
      '{"nbf":1,"nbf":2}',
      '{"aud":"a","aud":"b"}',
      '{"access":[{"collection":"a","collection":"b","access":"r"}]}',
      '{"value_exists":{"collection":"c","collection":"d","matches":[]}}',
    ]) {
      expect(await outcome(only(), bearer(raw(payload))), payload).toBe(INVALID);
    }
    expect(await outcome(only(), bearer(raw('{"access":"r","x":1,"x":2}')))).toBe('read');
  });

  it('exp is an unsigned integer as written: no float, exponent, sign or null', async () => {
    for (const exp of ['1e20', `${nowS + 100}.0`, '-0', '-1', 'null', '"1"', '18446744073709551616']) {
      expect(await outcome(only(), bearer(raw(`{"exp":${exp}}`))), exp).toBe(INVALID);
    }
    expect(await outcome(only(), bearer(raw(`{"exp":${nowS + 100}}`)))).toBe('manage');
    expect(await outcome(only(), bearer(raw('{"exp":18446744073709551615}')))).toBe('manage');
  });

  it('a payload or header starting with a byte-order mark, or with trailing bytes, is not JSON', async () => {
    expect(await outcome(only(), bearer(raw(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"access":"r"}')]))))).toBe(INVALID);
    expect(await outcome(only(), bearer(raw('{"access":"r"} x')))).toBe(INVALID);
    expect(await outcome(only(), bearer(raw('{"access":"r"}', KEY, '\ufeff{"alg":"HS256"}')))).toBe(INVALID);
  });

  it('lone surrogates: refused where serde reads the string, ignored where it skips it', async () => {
    expect(await outcome(only(), bearer(raw('{"sub":"\\ud800"}')))).toBe(INVALID);
    expect(await outcome(only(), bearer(raw('{"access":[{"collection":"c\\udc00","access":"r"}]}')))).toBe(INVALID);
    expect(await outcome(only(), bearer(raw('{"access":"r","note":"\\ud800"}')))).toBe('read');
  });

  it('value_exists: integers stay exact, keys are Qdrant JSON paths', async () => {
    const a = only();
    const token = raw('{"value_exists":{"collection":"c","matches":[{"key":"user.id","value":1234567890123456789}]}}');
    const principal = await a.authenticate(bearer(token));
    expect(principal.valueExists?.matches[0]?.value).toBe(1234567890123456789n);
    for (const bad of [
      '{"key":"","value":1}',
      '{"key":"a..b","value":1}',
      '{"key":"a","value":9223372036854775808}',
      '{"key":"a","value":1.0}',
      '{"key":"a","value":null}',
    ]) {
      expect(await outcome(a, bearer(raw(`{"value_exists":{"collection":"c","matches":[${bad}]}}`))), bad).toBe(INVALID);
    }
    expect(await outcome(a, bearer(raw('{"value_exists":{"collection":"c","matches":[{"key":"a[0].\\"b c\\"[]","value":true}]}}')))).toBe('manage');
  });

  it('base64url segments must be canonical and unpadded', async () => {
    const token = raw('{"access":"r"}');
    const [h, p, sig] = token.split('.') as [string, string, string];
    const last = sig.at(-1)!;
    const sibling = 'AQgw'.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : last; // same bytes, other trailing bits
    if (sibling !== last) expect(await outcome(only(), bearer(`${h}.${p}.${sig.slice(0, -1)}${sibling}`))).toBe(INVALID);
    expect(await outcome(only(), bearer(`${h}=.${p}.${sig}`))).toBe(INVALID);
  });

  it("header fields keep jsonwebtoken's types; jwk and crit are refused", async () => {
    for (const header of [
      '{"alg":"HS256","kid":5}',
      '{"alg":"HS256","x5c":"a"}',
      '{"alg":"HS256","alg":"HS256"}',
      '{"alg":"HS256","crit":["b64"]}',
      '{"alg":"HS256","jwk":{"kty":"oct"}}',
      '{"alg":"HS256","extra":1}',
    ]) {
      expect(await outcome(only(), bearer(raw('{"access":"r"}', KEY, header))), header).toBe(INVALID);
    }
    expect(await outcome(only(), bearer(raw('{"access":"r"}', KEY, '{"alg":"HS256","typ":"JWT","kid":"k1","extra":"s"}')))).toBe('read');
  });
});
