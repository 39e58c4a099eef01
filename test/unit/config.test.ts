import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { applyEnvOverrides, parseConfig } from '../../src/config/load.js';

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
