// Stand-in upstream CLI (NOT Qdrant): an in-memory imitation of Qdrant 1.19's gRPC API for demos
// and benchmarks of the proxy.
//
//   node dist/standin/main.js [--host 127.0.0.1] [--port 6334] [--tls-cert F --tls-key F [--tls-ca F]]
//
// Prints one JSON line, {"msg":"listening","port":N,"tls":bool,"mutual_tls":bool}; exits 0 on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startStandin, type Standin, type StandinOptions } from './standin-server.js';

const USAGE = 'usage: standin [--host 127.0.0.1] [--port 6334] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]';

function parseOptions(argv: string[]): StandinOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '6334' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
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
  return opts;
}

async function main(): Promise<void> {
  let opts: StandinOptions;
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
  standin = await startStandin(opts);
  const line = { msg: 'listening', port: standin.port, tls: opts.tls !== undefined, mutual_tls: opts.tls?.ca !== undefined };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`standin: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});
