#!/usr/bin/env node
// qdrant-auth-proxy: serve | check-config | token | keys
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { compileRules, servedApi } from '../access/compile-rules.js';
import { compileTenantRules } from '../access/tenant-confine.js';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { auditDirProblem } from '../audit/audit-dir.js';
import { AuthFiles } from '../auth/auth-files.js';
import { loadConfig } from '../config/load.js';
import { configWarnings } from '../config/warnings.js';
import { createServerTls } from '../server/server-tls.js';
import { createUpstream } from '../upstream/upstream-channel.js';
import { parseCommandArgs, UsageError } from './args.js';
import { KEYS_USAGE, keysCommand } from './keys.js';
import { serve } from './serve.js';
import { mintToken, TOKEN_USAGE } from './token.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `usage: qdrant-auth-proxy <command> [options]

commands:
  serve [--config FILE]          run the proxy
  check-config [--config FILE]   validate a config file (exit 0 valid, 1 invalid); prints warnings
  token [options]                mint a Qdrant-style JWT (see: token --help)
  keys create|hash|list          named keys for auth.keys_file (see: keys --help)

  --help, -h                     this text (or: <command> --help)
  --version                      the proxy's version

Environment variables QDRANT__SECTION__KEY override config keys (e.g. QDRANT__SERVICE__API_KEY).`;

const SERVE_USAGE = `usage: qdrant-auth-proxy serve [--config FILE]

Runs the proxy until SIGTERM or SIGINT (then drains and exits 0); SIGHUP reloads the config file.
Without --config every key has its default (config/example.yaml lists them all).

examples:
  qdrant-auth-proxy serve --config proxy.yaml
  QDRANT__SERVICE__API_KEY=... QDRANT__UPSTREAM__URL=https://qdrant:6334 qdrant-auth-proxy serve`;

const CHECK_USAGE = `usage: qdrant-auth-proxy check-config [--config FILE]

Reads and validates the config as serve would (environment overrides included): keys, types,
certificate files, the Qdrant API it loads. Exits 0 when serve would start, 1 otherwise; warnings
about unsafe choices go to stderr either way.

example:
  qdrant-auth-proxy check-config --config proxy.yaml`;

const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case 'serve':
      if (help) return print(SERVE_USAGE);
      return serve(parseCommandArgs('serve', rest, CONFIG_OPTION).config ?? null);
    case 'check-config':
      if (help) return print(CHECK_USAGE);
      return checkConfig(parseCommandArgs('check-config', rest, CONFIG_OPTION).config ?? null);
    case 'token':
      if (help) return print(TOKEN_USAGE);
      console.log(await mintToken(rest));
      return 0;
    case 'keys':
      if (help) return print(KEYS_USAGE);
      console.log(await keysCommand(rest));
      return 0;
    case '--version':
    case 'version':
      return print(VERSION);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      return print(USAGE);
    default:
      console.error(`qdrant-auth-proxy: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function print(text: string): number {
  console.log(text);
  return 0;
}

function checkConfig(file: string | null): number {
  try {
    const config = loadConfig(file);
    const auditProblem = config.audit.enabled ? auditDirProblem(config.audit.dir) : null;
    if (auditProblem) throw new Error(auditProblem); // serve would not start
    const api = servedApi(loadQdrantApi(config.api.proto_dir ?? undefined));
    compileRules(api);
    compileTenantRules(api);
    const silent = pino({ level: 'silent' });
    createServerTls(config, silent);
    createUpstream(config, silent).forwarder.close();
    // The keys and revocations files, read as serve reads them.
    const authFiles = new AuthFiles({ logger: silent, now: Date.now, onKeyUse: () => undefined, onChange: () => undefined });
    try {
      authFiles.configure(config.auth);
    } finally {
      authFiles.stop();
    }
    for (const warning of configWarnings(config)) console.error(`warning: ${warning}`);
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
    const command = process.argv[2] ?? '';
    if (err instanceof UsageError || (err instanceof Error && err.name === 'ConfigError')) {
      console.error(`qdrant-auth-proxy ${command}: ${err.message}`);
      process.exitCode = err instanceof UsageError && /unknown option|expects a value|unexpected argument/.test(err.message) ? 2 : 1;
      return;
    }
    console.error(err); // not the user's mistake: the stack helps whoever fixes it
    process.exitCode = 1;
  },
);
