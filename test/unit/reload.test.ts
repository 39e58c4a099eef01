import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { reloadedConfig } from '../../src/config/reload.js';

describe('what a SIGHUP changes', () => {
  const running = parseConfig({ service: { api_key: 'one', host: '127.0.0.1' }, workers: 2 });

  it('keys, auth, audit and log level change in place', () => {
    const { config, needRestart } = reloadedConfig(
      running,
      parseConfig({ service: { api_key: 'two', host: '127.0.0.1' }, workers: 2, log_level: 'WARN', audit: { enabled: true } }),
    );
    expect([config.service.api_key, config.log_level, config.audit.enabled, needRestart]).toEqual(['two', 'WARN', true, []]);
  });

  it('workers, sections holding sockets and listener keys keep their running values and are named', () => {
    const next = parseConfig({ service: { api_key: 'one', host: '0.0.0.0' }, workers: 4, limits: { max_connections: 5 }, upstream: { connections: 2 } });
    const { config, needRestart } = reloadedConfig(running, next);
    expect(needRestart.sort()).toEqual(['limits', 'service.host', 'upstream', 'workers']);
    expect([config.workers, config.service.host, config.limits.max_connections, config.upstream.connections]).toEqual([2, '127.0.0.1', 10000, 1]);
  });
});
