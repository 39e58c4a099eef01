// Stand-in upstream CLI (NOT Qdrant): an in-memory imitation of Qdrant 1.19's gRPC API for demos
// and benchmarks of the proxy.
//
//   node dist/standin/main.js [--host 127.0.0.1] [--port 6334] [--tls-cert F --tls-key F [--tls-ca F]]
//                             [--delay /pkg.Service/Method=MS ...]
//
// --delay (repeatable) makes the stand-in answer that unary method only after MS milliseconds, with
// its usual reply (for deadline tests); a call cancelled meanwhile (deadline, client gone) is dropped.
//
// Prints one JSON line, {"msg":"listening","port":N,"tls":bool,"mutual_tls":bool}; exits 0 on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { servedApi } from '../access/compile-rules.js';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { STANDIN_HANDLERS } from './standin-handlers.js';
import { StandinError } from './standin-messages.js';
import { type Standin, type StandinOptions, startStandin } from './standin-server.js';

const USAGE = 'usage: standin [--host 127.0.0.1] [--port 6334] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--delay /pkg.Service/Method=MS ...]';

interface CliOptions {
  standin: StandinOptions;
  /** Method path → delay in milliseconds. */
  delays: Map<string, number>;
}

function parseOptions(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '6334' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      delay: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port}`);
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && cert === undefined) throw new Error('--tls-ca needs --tls-cert and --tls-key');
  const opts: StandinOptions = { host: values.host, port };
  if (cert !== undefined && key !== undefined) {
    const ca = values['tls-ca'];
    opts.tls = { cert: readFileSync(cert), key: readFileSync(key), ...(ca !== undefined ? { ca: readFileSync(ca) } : {}) };
  }
  const delays = new Map<string, number>();
  for (const spec of values.delay ?? []) {
    const m = /^(\/[\w.]+\/\w+)=(\d+)$/.exec(spec);
    if (!m) throw new Error(`invalid --delay ${spec}: expected /pkg.Service/Method=MILLISECONDS`);
    delays.set(m[1]!, Number(m[2]));
  }
  return { standin: opts, delays };
}

/**
 * Overrides each delayed method with a handler that computes the stand-in's usual reply (the same
 * handler table and codecs standin-server.ts uses) after the delay.
 */
function installDelays(standin: Standin, delays: Map<string, number>): void {
  if (delays.size === 0) return;
  const api = servedApi(loadQdrantApi());
  for (const [path, ms] of delays) {
    const method = api.methods.get(path);
    if (method?.kind !== 'unary') throw new Error(`--delay ${path}: not a unary method of the loaded API`);
    const handler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      const timer = setTimeout(() => {
        if (call.cancelled) return;
        try {
          const reply = STANDIN_HANDLERS.get(path)?.(method.request ? method.request.decode(call.request) : {}, standin.store) ?? {};
          callback(null, method.response ? method.response.encode({ ...reply }) : Buffer.alloc(0));
        } catch (err) {
          if (err instanceof StandinError) callback({ code: err.code, details: err.message });
          else callback({ code: grpc.status.INTERNAL, details: `stand-in upstream: ${(err as Error).message ?? String(err)}` });
        }
      }, ms);
      call.on('cancelled', () => clearTimeout(timer));
    };
    standin.override(path, handler as grpc.UntypedHandleCall);
  }
}

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  // Handlers go in before the "listening" line, so a supervisor may signal as soon as it reads it.
  let standin: Standin | undefined;
  const stop = (): void => {
    void (standin?.close() ?? Promise.resolve()).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  standin = await startStandin(opts.standin);
  installDelays(standin, opts.delays);
  const tls = opts.standin.tls;
  const line = { msg: 'listening', port: standin.port, tls: tls !== undefined, mutual_tls: tls?.ca !== undefined };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`standin: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});
