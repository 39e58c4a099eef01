import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { applyEnvOverrides, parseConfig } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

/** A valid identity provider, with the fields a case changes. */
const provider = (over: Record<string, unknown> = {}) => ({
  name: 'p',
  issuer: 'https://sso',
  audiences: ['qdrant'],
  discovery: true,
  access_rules: [{ claim: 'scope', contains: 'qdrant:read', access: 'r' }],
  ...over,
});

describe('config', () => {
  it('defaults match Qdrant where Qdrant has the key', () => {
    const c = parseConfig({});
    expect(c.service).toMatchObject({ host: '127.0.0.1', grpc_port: 6334, api_key: null, jwt_rbac: false, enable_tls: false });
    expect(c.audit).toMatchObject({ enabled: false, dir: './storage/audit', rotation: 'daily', max_log_files: 7 });
    expect(c.limits.max_message_bytes).toBe(256 * 1024 * 1024);
    expect(Object.isFrozen(c.service)).toBe(true);
  });

  it.each([
    [{ service: { grpc_port: 'abc' } }, /service\.grpc_port: .*expected number.*got "abc"/],
    [{ service: { grpc_port: 70000 } }, /service\.grpc_port: .*<=65535/],
    [{ service: { api_key: '' } }, /service\.api_key: must not be empty or blank/],
    [{ service: { read_only_api_key: '   ' } }, /service\.read_only_api_key: must not be empty or blank/],
    [{ service: { bogus: 1 } }, /service\.bogus: unknown key/],
    [{ upstream: { url: 'ftp://x' } }, /upstream\.url: must be http:\/\/host:port or https:\/\/host:port/],
    [{ service: { enable_tls: true } }, /service\.enable_tls: true requires tls\.cert and tls\.key/],
    [{ upstream: { url: 'http://h:1', ca_cert: '/x' } }, /upstream\.ca_cert: only valid with an https:\/\/ upstream\.url/],
    [{ upstream: { url: 'https://h:1', cert: '/x' } }, /upstream\.cert and upstream\.key: set both/],
    [{ service: { api_key: 'a', read_only_api_key: 'a' } }, /must all differ/],
    [{ audit: { rotation: 'weekly' } }, /audit\.rotation/],
    [{ auth: { jwt_providers: [provider({ discovery: false })] } }, /auth\.jwt_providers p: set exactly one of jwks_uri, jwks_file, discovery: true/],
    [{ auth: { jwt_providers: [provider({ jwks_file: '/k.json' })] } }, /set exactly one of/],
    [{ auth: { jwt_providers: [provider({ issuer: 'http://sso' })] } }, /auth\.jwt_providers p: discovery: true needs an https:\/\/ issuer/],
    [{ auth: { jwt_providers: [provider({ discovery: false, jwks_uri: 'http://sso/jwks' })] } }, /jwt_providers\.0\.jwks_uri: must be an https:\/\/ URL/],
    [{ auth: { jwt_providers: [provider({ access_rules: [] })] } }, /set access_claim or access_rules/],
    [{ auth: { jwt_providers: [provider({ algorithms: ['HS256'] })] } }, /jwt_providers\.0\.algorithms\.0/],
    [{ auth: { jwt_providers: [provider({ algorithms: ['none'] })] } }, /jwt_providers\.0\.algorithms\.0/],
    [{ auth: { jwt_providers: [provider({ algorithms: ['RS256', 'RS256'] })] } }, /algorithms lists one twice/],
    [{ auth: { jwt_providers: [provider({ audiences: [] })] } }, /jwt_providers\.0\.audiences/],
    [{ auth: { jwt_providers: [provider(), provider({ issuer: 'https://other' })] } }, /auth\.jwt_providers p: another provider has this name/],
    [{ auth: { jwt_providers: [provider(), provider({ name: 'q' })] } }, /auth\.jwt_providers q: another provider has issuer https:\/\/sso/],
    [
      {
        auth: {
          jwt_providers: [
            provider({
              access_rules: [
                {
                  claim: 'g',
                  contains: 'x',
                  access: [
                    { collection: 'c', access: 'r' },
                    { collection: 'c', access: 'rw' },
                  ],
                },
              ],
            }),
          ],
        },
      },
      /access_rules\[0\]\.access: a collection is listed twice/,
    ],
  ])('%j is refused with a message naming the key', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });

  it('never echoes a secret value in an error', () => {
    try {
      parseConfig({ service: { api_key: 12345678 } });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).toMatch(/service\.api_key/);
      expect(String(err)).not.toContain('12345678');
    }
  });

  it('QDRANT__SECTION__KEY environment overrides', () => {
    const raw = applyEnvOverrides(
      { service: { api_key: 'file' } },
      {
        QDRANT__SERVICE__API_KEY: 'from-env',
        QDRANT__SERVICE__GRPC_PORT: '7000',
        QDRANT__SERVICE__JWT_RBAC: 'true',
        QDRANT__LOG_LEVEL: 'debug',
        OTHER: 'x',
      },
    );
    const c = parseConfig(raw);
    expect(c.service.api_key).toBe('from-env');
    expect(c.service.grpc_port).toBe(7000);
    expect(c.service.jwt_rbac).toBe(true);
    expect(c.log_level).toBe('DEBUG');
  });

  it('an API key that looks like a number stays a string', () => {
    expect(parseConfig(applyEnvOverrides({}, { QDRANT__SERVICE__API_KEY: '123456' })).service.api_key).toBe('123456');
  });

  it('refuses prototype-polluting override names', () => {
    expect(() => applyEnvOverrides({}, { QDRANT____PROTO____X: '1' })).toThrow(ConfigError);
  });
});

describe('secrets from files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qap-secret-files-'));
  const secretFile = (name: string, text: string, mode = 0o600) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  };

  const fifo = () => {
    const file = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
    execFileSync('mkfifo', ['-m', '600', file]);
    return file;
  };

  it('each key from its file (one trailing newline dropped), upstream.api_key too', () => {
    const c = parseConfig({
      service: { api_key_file: secretFile('k1', 'first-key-from-a-file\n'), read_only_api_key_file: secretFile('k2', 'read-key\r\n') },
      upstream: { api_key_file: secretFile('k3', 'upstream-key') },
    });
    expect([c.service.api_key, c.service.read_only_api_key, c.upstream.api_key]).toEqual(['first-key-from-a-file', 'read-key', 'upstream-key']);
  });

  it.each([
    [{ service: { api_key: 'x', api_key_file: '/etc/hostname' } }, 'service.api_key and service.api_key_file: set one, not both'],
    [{ service: { api_key_file: join(dir, 'missing') } }, 'service.api_key_file: cannot read'],
    [{ service: { alt_api_key_file: 'WORLD' } }, 'is readable by every user (mode 0644): chmod 600 it'],
    [{ service: { api_key_file: 'EMPTY' } }, 'service.api_key_file: EMPTY_PATH is empty or blank'],
    [{ upstream: { api_key_file: 'TWO' } }, 'upstream.api_key_file: TWO_PATH holds more than one line'],
    [{ service: { api_key_file: 'WRITABLE' } }, 'may be written by every user (mode 0602)'],
    [{ service: { api_key_file: 'FIFO' } }, 'service.api_key_file: FIFO_PATH is not a regular file'],
  ])('%j is refused, naming the key and never the secret', (raw, message) => {
    const files: Record<string, string> = {
      WORLD: secretFile('world', 'a-secret-everyone-reads', 0o644),
      EMPTY: secretFile('empty', '\n'),
      TWO: secretFile('two', 'line-one\nline-two\n'),
      WRITABLE: secretFile('writable', 'a-key-anyone-can-replace', 0o602),
      FIFO: fifo(),
    };
    const resolved = JSON.parse(JSON.stringify(raw).replace(/"(WORLD|EMPTY|TWO|WRITABLE|FIFO)"/g, (_m, k: string) => JSON.stringify(files[k]))) as object;
    const expected = message.replace(/(EMPTY|TWO|FIFO)_PATH/, (_m, k: string) => files[k]!);
    expect(() => parseConfig(resolved)).toThrow(ConfigError);
    expect(() => parseConfig(resolved)).toThrow(expected);
    try {
      parseConfig(resolved);
    } catch (err) {
      expect(String(err)).not.toMatch(/a-secret-everyone-reads|line-one/);
    }
  });

  it('a file its group may read is a warning', () => {
    const c = parseConfig({ service: { api_key_file: secretFile('group', 'a-key-the-group-can-read-0123', 0o640) } });
    expect(configWarnings(c).join('\n')).toMatch(/service\.api_key_file: .* is readable by its group \(mode 0640\)/);
  });
});
