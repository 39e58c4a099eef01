#!/usr/bin/env node
// qdrant-auth-proxy: serve | check-config | token
import { parseArgs } from 'node:util';
import { compileRules } from '../access/compile-rules.js';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger, setLogLevel } from '../log/logger.js';
import { ProxyServer } from '../server/proxy-server.js';
import { createServerCredentials } from '../server/server-credentials.js';
import { Forwarder } from '../upstream/forward.js';
import { mintToken, TOKEN_USAGE } from './token.js';
import { createScrollLookup } from '../upstream/scroll-lookup.js';
import { buildEngine } from '../engine.js';
import { AuditLog } from '../audit/audit-log.js';
import { createUpstreamClient } from '../upstream/upstream-channel.js';

const USAGE = `usage:
  qdrant-auth-proxy serve [--config FILE]          run the proxy
  qdrant-auth-proxy check-config [--config FILE]   validate a config file (exit 0 valid, 1 invalid)
  qdrant-auth-proxy token [options]                mint a JWT (see: token --help)

Environment variables QDRANT__SECTION__KEY override config keys (e.g. QDRANT__SERVICE__API_KEY).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(configPath(rest));
    case 'check-config':
      return checkConfig(configPath(rest));
    case 'token':
      if (rest.includes('--help') || rest.includes('-h')) {
        console.log(TOKEN_USAGE);
        return 0;
      }
      try {
        console.log(await mintToken(rest));
        return 0;
      } catch (err) {
        console.error(`token: ${err instanceof Error ? err.message : String(err)}`);
        return 1;
      }
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return 0;
    default:
      console.error(command ? `unknown command: ${command}\n\n${USAGE}` : USAGE);
      return 2;
  }
}

function configPath(args: string[]): string | null {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  return values.config ?? null;
}

function checkConfig(file: string | null): number {
  try {
    const config = loadConfig(file);
    const api = loadQdrantApi(config.api.proto_dir ?? undefined);
    compileRules(api);
    createServerCredentials(config);
    createUpstreamClient(config).close();
    console.log(`config OK${file ? `: ${file}` : ''} (upstream ${config.upstream.url})`);
    return 0;
  } catch (err) {
    console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

/** Sections a SIGHUP does not change: they hold sockets, channels or the loaded API. */
const RESTART_ONLY = ['upstream', 'api', 'limits', 'shutdown', 'tls'] as const;

async function serve(file: string | null): Promise<number> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(file);
  } catch (err) {
    console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const logger = createLogger(config.log_level);
  try {
    const api = loadQdrantApi(config.api.proto_dir ?? undefined);
    const upstream = createUpstreamClient(config);
    const forwarder = new Forwarder(upstream, config.upstream.api_key);
    const engineFor = (c: Readonly<Config>) =>
      buildEngine(c, { api, logger, scroll: createScrollLookup(api, forwarder, c.auth.value_exists_timeout_ms) });
    const audit = new AuditLog(config.audit, logger);
    const server = new ProxyServer(engineFor(config), { api, forwarder, logger, audit });
    const port = await server.listen();
    // Start, reload and stop are always logged, whatever log_level says: supervisors and tests wait on them.
    const lifecycle = logger.child({}, { level: 'info' });
    lifecycle.info(
      { host: config.service.host, port, tls: config.service.enable_tls, upstream: config.upstream.url, methods: api.methods.size, api: api.source },
      'listening',
    );
    return await new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        lifecycle.info({ signal, drain_seconds: config.shutdown.drain_seconds }, 'shutting down');
        void server.shutdown(config.shutdown.drain_seconds * 1000).then(async () => {
          upstream.close();
          await audit.close();
          lifecycle.info('stopped');
          logger.flush();
          resolve(0);
        });
      };
      process.on('SIGHUP', () => {
        // Keys, access rules and log level change in place; listener, upstream and API need a restart.
        try {
          const next = loadConfig(file);
          const listener = (c: Readonly<Config>) => [c.service.host, c.service.grpc_port, c.service.enable_tls, c.service.verify_https_client_certificate];
          const fixed: string[] = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
          if (JSON.stringify(listener(next)) !== JSON.stringify(listener(config))) fixed.push('service (listener keys)');
          const merged = Object.freeze({
            ...next,
            ...Object.fromEntries(RESTART_ONLY.map((k) => [k, config[k]])),
            service: { ...next.service, host: config.service.host, grpc_port: config.service.grpc_port, enable_tls: config.service.enable_tls, verify_https_client_certificate: config.service.verify_https_client_certificate },
          }) as Readonly<Config>;
          const engine = engineFor(merged);
          audit.reconfigure(merged.audit);
          server.setEngine(engine);
          setLogLevel(logger, merged.log_level);
          lifecycle.info({ unchanged_until_restart: fixed }, 'config reloaded');
        } catch (err) {
          logger.error({ err: err instanceof Error ? err.message : String(err) }, 'config reload refused; the previous config stays in use');
        }
      });
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message }, 'failed to start');
    logger.flush();
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
