// The bin: check-config, token, serve's start-up errors, SIGTERM drain, SIGHUP reload.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { forwardedSince, overrideForTest, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { runBin } from '../helpers/start-proxy.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'qap-cli-'));

const bin = runBin;

function configFile(name: string, content: string | object): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

describe('check-config', () => {
  it('accepts a valid file', async () => {
    const out = await bin(['check-config', '--config', configFile('ok.yaml', { service: { api_key: 'k' } })]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^config OK/);
  });

  it.each([
    ['missing.yaml', null, /cannot read config file .*missing\.yaml: ENOENT/],
    ['not-yaml.yaml', 'service: [unclosed', /not valid YAML/],
    ['list.yaml', '- a\n- b\n', /expected a YAML mapping at the top level/],
    ['port.yaml', { service: { grpc_port: 'x' } }, /service\.grpc_port: .*expected number/],
    ['typo.yaml', { servce: { api_key: 'k' } }, /servce: unknown key/],
    ['blank.yaml', { service: { api_key: ' ' } }, /service\.api_key: must not be empty or blank/],
    ['tls.yaml', { service: { enable_tls: true }, tls: { cert: '/nope.pem', key: '/nope-key.pem' } }, /tls\.cert: cannot read \/nope\.pem: ENOENT/],
    ['upstream-ca.yaml', { upstream: { url: 'https://127.0.0.1:1', ca_cert: '/nope-ca.pem' } }, /upstream\.ca_cert: cannot read \/nope-ca\.pem/],
    ['proto-dir.yaml', { api: { proto_dir: dir } }, /api\.proto_dir: no \.proto files/],
  ])('%s is refused with its own message', async (name, content, message) => {
    const file = content === null ? join(dir, name) : configFile(name, content);
    const out = await bin(['check-config', '--config', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(message);
  });

  it('serve exits 1 when a start-up step fails after the gRPC port is bound', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    const out = await bin(['serve', '--config', configFile('busy.yaml', { service: { grpc_port: 0 }, metrics: { port } })]);
    busy.close();
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/EADDRINUSE.*failed to start/);
  });

  it('serve refuses a bad config with exit code 1 and the same message', async () => {
    const out = await bin(['serve', '--config', configFile('serve-bad.yaml', { service: { grpc_port: 'x' } })]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/service\.grpc_port/);
  });
});

describe('token', () => {
  it("mints a token in Qdrant's claim format", async () => {
    const out = await bin(
      [
        'token',
        '--access',
        '[{"collection":"c1","access":"prw"}]',
        '--exp',
        '60',
        '--sub',
        'alice',
        '--value-exists',
        '{"collection":"u","matches":[{"key":"user","value":"alice"}]}',
      ],
      {
        QDRANT__SERVICE__API_KEY: 'signing-key',
      },
    );
    expect(out.code).toBe(0);
    const claims = decodeJwt(out.stdout.trim());
    expect(claims).toMatchObject({ access: [{ collection: 'c1', access: 'prw' }], sub: 'alice', value_exists: { collection: 'u' } });
    expect(claims.exp! - Date.now() / 1000).toBeGreaterThan(50);
  });

  it.each([
    [['--access', '[{"collection":"c","access":"w"}]'], '--access: access[0].access: expected "r", "rw" or "prw", got "w"'],
    [['--access', '[{"collection":"c","access":"r"},{"collection":"c","access":"rw"}]'], '--access: access[1].collection: "c" is listed twice'],
    [['--access', 'rw'], '--access: "rw" is a collection mode; give it with its collection'],
    [['--access', 'write'], '--access: expected m, r, or a JSON list'],
    [['--exp', 'soon'], '--exp: expected whole seconds from now (e.g. 3600), got "soon"'],
    [['--value-exists', '{"collection":"u","matches":[{"key":"a..b","value":1}]}'], '--value-exists: matches[0].key: expected a payload path'],
    [
      ['--value-exists', '{"collection":"u","matches":[{"key":"a","value":1.5}]}'],
      '--value-exists: matches[0].value: expected a string, an integer or a boolean, got 1.5',
    ],
  ])('refuses %j, naming the part that is wrong', async (args, message) => {
    const out = await bin(['token', ...args], { QDRANT__SERVICE__API_KEY: 'k' });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(message);
    expect(out.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('--exp takes negative seconds too (an expired token, for tests)', async () => {
    const out = await bin(['token', '--exp', '-100'], { QDRANT__SERVICE__API_KEY: 'k' });
    expect(out.code).toBe(0);
    expect(decodeJwt(out.stdout.trim()).exp! - Date.now() / 1000).toBeLessThan(-90);
  });
});

describe('token --private-key (identity provider tokens, for demos)', () => {
  const keyFile = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const files = {
    rsa: keyFile('rsa.pem', rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
    ec384: keyFile('ec.pem', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string),
    ed: keyFile('ed.jwk', JSON.stringify({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'ed-1' })),
    publicOnly: keyFile('public.pem', rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string),
  };

  it.each([
    ['rsa', 'RS256'],
    ['ec384', 'ES384'],
    ['ed', 'EdDSA'],
  ] as const)('%s key: --jwks prints the public set, the token verifies against it (alg %s)', async (name, alg) => {
    const jwks = await bin(['token', '--private-key', files[name], '--jwks']);
    expect(jwks.code).toBe(0);
    const set = JSON.parse(jwks.stdout) as { keys: { kid: string; alg: string; d?: string }[] };
    expect(set.keys[0]).toMatchObject({ alg, use: 'sig' });
    expect(set.keys[0]!.d).toBeUndefined();
    if (name === 'ed') expect(set.keys[0]!.kid).toBe('ed-1');
    const out = await bin([
      'token',
      '--private-key',
      files[name],
      '--issuer',
      'https://sso.example.com',
      '--audience',
      'qdrant',
      '--sub',
      'alice',
      '--claims',
      '{"groups":["qdrant-admins"]}',
    ]);
    expect(out.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(out.stdout.trim(), createLocalJWKSet(set as never), {
      issuer: 'https://sso.example.com',
      audience: 'qdrant',
    });
    expect(protectedHeader).toMatchObject({ alg, kid: set.keys[0]!.kid });
    expect(payload).toMatchObject({ sub: 'alice', groups: ['qdrant-admins'] });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it.each([
    [['--private-key', 'missing.pem'], '--private-key: cannot read missing.pem: ENOENT'],
    [['--private-key', 'PUBLIC'], 'holds no private key'],
    [['--private-key', 'RSA', '--alg', 'HS256'], '--alg: expected one of RS256'],
    [['--private-key', 'RSA', '--alg', 'ES256'], '--alg ES256 does not suit the key'],
    [['--private-key', 'RSA', '--claims', '[1]'], '--claims: expected a JSON object of claims'],
    [['--private-key', 'RSA', '--config', 'x.yaml'], '--config: not with --private-key'],
    [['--issuer', 'https://x'], '--issuer: only with --private-key'],
  ])('refuses %j clearly', async (args, message) => {
    const resolved = args.map((a) => (a === 'RSA' ? files.rsa : a === 'PUBLIC' ? files.publicOnly : a));
    const out = await bin(['token', ...resolved], { QDRANT__SERVICE__API_KEY: 'k' });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(message);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('keys', () => {
  it.each([
    [['keys'], 'keys: expected create, hash or list'],
    [['keys', 'rotate'], 'keys: expected create, hash or list, got "rotate"'],
    [['keys', 'create', '--access', 'r'], '--id is required'],
    [['keys', 'create', '--id', 'a_b', '--access', 'r'], '--id: use 1-64 letters, digits and - (no _), got "a_b"'],
    [['keys', 'create', '--id', 'a'], '--access is required'],
    [['keys', 'create', '--id', 'a', '--access', 'rw'], '--access: "rw" is a collection mode'],
    [['keys', 'create', '--id', 'a', '--access', 'r', '--expires-in', '3 months'], '--expires-in: expected a duration such as 90d'],
    [['keys', 'create', '--id', 'a', '--access', 'r', '--not-before', 'soon'], '--not-before: expected an RFC 3339 time'],
    [['keys', 'list'], 'give --file FILE or --config FILE'],
    [['keys', 'list', '--file', '/nonexistent/keys.yaml'], 'cannot read /nonexistent/keys.yaml: ENOENT'],
  ])('%j is refused clearly', async (args, message) => {
    const out = await bin(args);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it('keys hash refuses what is not a named key; keys create --expires-in never and list flags expiring keys', async () => {
    expect((await runBin(['keys', 'hash'], {}, 'just-a-password\n')).stderr).toContain('that is not a named key');
    const forever = await bin([
      'keys',
      'create',
      '--id',
      'forever',
      '--access',
      'm',
      '--expires-in',
      'never',
      '--subject',
      'ops',
      '--description',
      'break glass',
    ]);
    expect(forever.stdout).not.toContain('expires_at');
    expect(forever.stdout).toMatch(/subject: ops\n\s+description: break glass/);
    const soon = await bin(['keys', 'create', '--id', 'soon', '--access', 'r', '--expires-in', '2d']);
    const lines = (out: string) => out.trimEnd().split('\n').slice(1).join('\n').replace(/^/gm, '  ');
    const file = configFile('keys-list.yaml', `keys:\n${lines(forever.stdout)}\n${lines(soon.stdout)}\n`);
    const listed = await bin(['keys', 'list', '--file', file]);
    expect(listed.stdout).toMatch(/forever\s+m \(manage\)\s+never\s+ok\s+ops/);
    expect(listed.stdout).toMatch(/soon\s+r \(read\)\s+\S+\s+EXPIRES SOON \(in 2 d\)/);
    expect(listed.stdout).toContain('2 keys in');
    expect((await bin(['keys', 'list', '--file', file, '--warn-days', '1'])).stdout).toMatch(/soon\s+r \(read\)\s+\S+\s+ok/);
    const check = await bin(['check-config', '--config', configFile('with-keys.yaml', { service: { api_key: 'k'.repeat(30) }, auth: { keys_file: file } })]);
    expect(check.code).toBe(0);
    const broken = configFile('broken-keys.yaml', 'keys: [{id: x}]\n');
    const refused = await bin(['check-config', '--config', configFile('with-broken-keys.yaml', { auth: { keys_file: broken } })]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('keys[0] (id x): hash must be sha256:');
  });

  it('token --jti and --iat put the claims a revocation can name', async () => {
    const out = await bin(['token', '--jti', 'token-7', '--iat', '--sub', 'bob'], { QDRANT__SERVICE__API_KEY: 'k' });
    const claims = decodeJwt(out.stdout.trim());
    expect(claims).toMatchObject({ jti: 'token-7', sub: 'bob' });
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(60);
  });
});

describe('a CLI that helps', () => {
  it.each([['serve'], ['check-config'], ['token'], ['keys']])('%s --help prints its usage with an example', async (command) => {
    const out = await bin([command, '--help']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`usage: qdrant-auth-proxy ${command}`);
    expect(out.stdout).toMatch(/example/);
  });

  it('--version prints the version', async () => {
    const out = await bin(['--version']);
    expect([out.code, out.stdout.trim()]).toEqual([0, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version]);
  });

  it('a misspelt flag names the flag and where help is, without a stack trace', async () => {
    for (const command of ['serve', 'check-config', 'token']) {
      const out = await bin([command, '--confg', 'x.yaml']);
      expect(out.code, command).toBe(2);
      expect(out.stderr.trim()).toBe(`qdrant-auth-proxy ${command}: unknown option --confg (see: qdrant-auth-proxy ${command} --help)`);
    }
    const missing = await bin(['check-config', '--config']);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      2,
      'qdrant-auth-proxy check-config: --config expects a value (see: qdrant-auth-proxy check-config --help)',
    ]);
  });

  it('check-config warns about unsafe choices (and still passes); serve logs them and the auth mode', async () => {
    const unsafe = configFile('unsafe.yaml', { service: { host: '0.0.0.0', grpc_port: 0, jwt_rbac: true, read_only_api_key: 'abc' }, metrics: { port: 0 } });
    const out = await bin(['check-config', '--config', unsafe]);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('warning: service.host 0.0.0.0 is reachable beyond this machine without TLS');
    expect(out.stderr).toContain('warning: service.jwt_rbac is on but service.api_key is not set');
    expect(out.stderr).toContain('warning: service.read_only_api_key is 3 characters long');
    const open = await bin(['check-config', '--config', configFile('open.yaml', {})]);
    expect(open.stderr).toContain('warning: no authentication: every client has full (manage) access');
    expect(open.stderr).not.toContain('abc');
  });

  it('an audit.dir that cannot be written fails check-config and serve at once (no spinning), naming audit.dir', async () => {
    const bad = configFile('audit-bad.yaml', { service: { grpc_port: 0 }, metrics: { port: 0 }, audit: { enabled: true, dir: '/proc/forbidden/audit' } });
    const check = await bin(['check-config', '--config', bad]);
    expect([check.code, check.stderr]).toEqual([1, expect.stringMatching(/config error: audit\.dir: \/proc\/forbidden\/audit/)]);
    const started = Date.now();
    const serve = await bin(['serve', '--config', bad]);
    expect(serve.code).toBe(1);
    expect(serve.stdout).toMatch(/audit\.dir: \/proc\/forbidden\/audit.*failed to start/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("YAML errors end in a sentence; an environment override's error names the variable", async () => {
    const yaml = await bin(['check-config', '--config', configFile('bad-yaml.yaml', 'service: { grpc_port: 1, ]')]);
    expect(yaml.stderr.trim()).not.toMatch(/:$/);
    const env = await bin(['check-config'], { QDRANT__SERVICE__GRPC_PORT: 'abc', QDRANT__SERVICE__API_KYE: 'x' });
    expect(env.stderr).toContain('(from the environment: QDRANT__SERVICE__GRPC_PORT)');
    expect(env.stderr).toContain('service.api_kye (from the environment: QDRANT__SERVICE__API_KYE): unknown key');
  });

  it('a port in use: exit 1, and every line it prints is JSON', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    const out = await bin(['serve', '--config', configFile('port-busy.yaml', { service: { grpc_port: port }, metrics: { port: 0 } })]);
    busy.close();
    expect(out.code).toBe(1);
    for (const line of `${out.stdout}${out.stderr}`.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    expect(out.stdout).toMatch(/EADDRINUSE.*failed to start/);
  });
});

describe('serve lifecycle', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ upstream: { api_key: 'upstream-secret' }, shutdown: { drain_seconds: 10 } }, {});
  });
  afterAll(async () => stack?.stop());

  it("sends upstream.api_key instead of the client's credentials", async () => {
    const before = stack.standin.calls.length;
    await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'client-key' }));
    const seen = forwardedSince(stack.standin, before)[0]!;
    expect(seen.metadata.get('api-key')).toEqual(['upstream-secret']);
    expect(stack.proxy.output.join('\n')).not.toContain('upstream-secret');
  });

  it('SIGTERM drains in-flight calls, then exits 0', async () => {
    overrideForTest(stack.standin, '/qdrant.Points/Search', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      setTimeout(() => cb(null, Buffer.from('late')), 700);
    }) as grpc.UntypedHandleCall);
    const inflight = rawUnary(stack.client, '/qdrant.Points/Search', Buffer.alloc(0));
    await until(() => stack.standin.calls.some((c) => c.path === '/qdrant.Points/Search'), 10_000, 'the call upstream');
    const exit = stack.proxy.stop('SIGTERM');
    const out = await inflight;
    expect(out.code).toBe(grpc.status.OK);
    expect(String(out.reply)).toBe('late');
    expect(await exit).toBe(0);
  });
});

describe('api.proto_dir', () => {
  it('serves the API described by a directory of .proto files instead of the bundled one', async () => {
    const protoDir = join(dir, 'protos');
    mkdirSync(join(protoDir, 'nested'), { recursive: true });
    // A made-up minimal API in Qdrant's package, written for this test.
    writeFileSync(
      join(protoDir, 'nested', 'mini.proto'),
      'syntax = "proto3";\npackage qdrant;\nmessage HealthCheckRequest {}\nmessage HealthCheckReply { string title = 1; string version = 2; }\nservice Qdrant { rpc HealthCheck (HealthCheckRequest) returns (HealthCheckReply); }\n',
    );
    const file = configFile('proto-dir-ok.yaml', { api: { proto_dir: protoDir } });
    const check = await bin(['check-config', '--config', file]);
    expect(check.code).toBe(0);
    const { startProxy } = await import('../helpers/start-proxy.js');
    const proxy = await startProxy({ api: { proto_dir: protoDir } });
    const started = JSON.parse(proxy.output.find((l) => l.includes('"listening"'))!) as { methods: number; api: string };
    // The file's one method, plus Qdrant's other methods as raw bytes, less the 3 list methods and the
    // 9 with lookup collections (those need a descriptor).
    expect(started).toMatchObject({ api: protoDir, methods: 1 + (59 - 1 - 3 - 9) });
    expect(await proxy.stop()).toBe(0);
  });
  it("serve pins V8's heap growing factor at start-up unless the operator set one, and replaces node's AsyncResource bind", async () => {
    const { startProxy } = await import('../helpers/start-proxy.js');
    const listening = (p: { output: string[] }) =>
      JSON.parse(p.output.find((l) => l.includes('"listening"'))!) as { heap_growing_percent: unknown; lean_async_bind: unknown };
    const tuned = await startProxy({});
    expect(listening(tuned).heap_growing_percent).toBe(150);
    expect(listening(tuned).lean_async_bind).toBe(true);
    expect(await tuned.stop()).toBe(0);
    const operator = await startProxy({}, {}, ['--heap_growing_percent=150']);
    expect(listening(operator).heap_growing_percent).toBe('set by the operator');
    expect(await operator.stop()).toBe(0);
  });
});
