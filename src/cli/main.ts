#!/usr/bin/env node
// qdrant-auth-proxy: serve | check-config | token
import { parseArgs } from 'node:util';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { ProxyServer } from '../server/proxy-server.js';
import { Forwarder } from '../upstream/forward.js';
import { createUpstreamClient } from '../upstream/upstream-channel.js';

const USAGE = `usage:
  qdrant-auth-proxy serve [--config FILE]          run the proxy
  qdrant-auth-proxy check-config [--config FILE]   validate a config file (exit 0 valid, 1 invalid)

Environment variables QDRANT__SECTION__KEY override config keys (e.g. QDRANT__SERVICE__API_KEY).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(configPath(rest));
    case 'check-config':
      return checkConfig(configPath(rest));
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
    loadQdrantApi(config.api.proto_dir ?? undefined);
    createUpstreamClient(config).close();
    console.log(`config OK${file ? `: ${file}` : ''} (upstream ${config.upstream.url})`);
    return 0;
  } catch (err) {
    console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

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
    const server = new ProxyServer(config, { api, forwarder: new Forwarder(upstream, config.upstream.api_key), logger });
    const port = await server.listen();
    logger.info(
      { host: config.service.host, port, tls: config.service.enable_tls, upstream: config.upstream.url, methods: api.methods.size, api: api.source },
      'listening',
    );
    return await new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal, drain_seconds: config.shutdown.drain_seconds }, 'shutting down');
        void server.shutdown(config.shutdown.drain_seconds * 1000).then(() => {
          upstream.close();
          logger.info('stopped');
          logger.flush();
          resolve(0);
        });
      };
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
