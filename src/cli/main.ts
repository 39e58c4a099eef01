#!/usr/bin/env node
// qdrant-auth-proxy: serve | check-config | token
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { compileRules } from '../access/compile-rules.js';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { loadConfig } from '../config/load.js';
import { createServerTls } from '../server/server-tls.js';
import { createUpstream } from '../upstream/upstream-channel.js';
import { serve } from './serve.js';
import { mintToken, TOKEN_USAGE } from './token.js';

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
    const silent = pino({ level: 'silent' });
    createServerTls(config, silent);
    createUpstream(config, silent).forwarder.close();
    console.log(`config OK${file ? `: ${file}` : ''} (upstream ${config.upstream.url})`);
    return 0;
  } catch (err) {
    console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
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
