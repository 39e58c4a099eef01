// h2load for the lean set (bench/lean.mjs, bench/compare.sh LOADGEN=h2load): one gRPC call's status
// (h2load counts a gRPC refusal, HTTP 200 with grpc-status in the trailers, as a success), and one
// h2load run pinned to a core, with its figures and latency percentiles from its per-request log.
//
//   node bench/h2load.mjs check PORT PATH BODY_FILE [AUTHORIZATION]
//       exit 1 unless the call is answered with grpc-status 0
//   node bench/h2load.mjs run PORT PATH BODY_FILE SECONDS RPS LOG_FILE [AUTHORIZATION]
//       one run (RPS 0: full load), its figures as JSON on stdout
// Environment: H2LOAD [h2load], LEAN_LOADGEN_CPU [0] (the core h2load is pinned to).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';

export const CONNECTIONS = 8;
export const STREAMS = 16;
const H2LOAD = process.env.H2LOAD || 'h2load';
export const CPU = process.env.LEAN_LOADGEN_CPU || '0';
export const PINNED = spawnSync('taskset', ['--version']).status === 0;

/** One gRPC call over a fresh h2c connection: its grpc-status (a check that the path answers calls). */
export function grpcStatus(port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    session.setTimeout(10_000, () => {
      session.destroy();
      reject(new Error(`no answer on port ${port} within 10 s`));
    });
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let status = null;
    req.on('response', (h) => (status = h['grpc-status'] ?? status));
    req.on('trailers', (t) => (status = t['grpc-status'] ?? status));
    req.on('data', () => undefined);
    req.on('end', () => {
      session.close();
      resolve(status);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One h2load run, CONNECTIONS x STREAMS, `rps` calls/s in all (0: full load). */
export function h2load({ port, path, bodyFile, headers = {}, seconds, rps = 0, logFile }) {
  rmSync(logFile, { force: true }); // h2load appends to it
  const args = ['-c', String(CONNECTIONS), '-m', String(STREAMS), '-D', String(seconds), '--log-file', logFile];
  if (rps) args.push('--rps', String(rps / CONNECTIONS)); // per connection
  for (const [k, v] of Object.entries({ 'content-type': 'application/grpc', te: 'trailers', ...headers })) args.push('-H', `${k}: ${v}`);
  args.push('-d', bodyFile, `http://127.0.0.1:${port}${path}`);
  const [cmd, all] = PINNED ? ['taskset', ['-c', CPU, H2LOAD, ...args]] : [H2LOAD, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, all, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const req = out.match(/requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/);
      const fin = out.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/);
      if (code !== 0 || !req || !fin) return reject(new Error(`h2load failed (${code}):\n${out.slice(-2000)}`));
      const micros = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l.split('\t')[1] === '200')
        .map((l) => Number(l.split('\t')[2]))
        .sort((a, b) => a - b);
      const q = (p) => (micros.length ? micros[Math.min(micros.length - 1, Math.floor(p * micros.length))] / 1000 : NaN);
      resolve({ succeeded: Number(req[4]), failed: Number(req[5]), rps: Number(fin[1]), p50: q(0.5), p99: q(0.99) });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, port, path, bodyFile, ...rest] = process.argv.slice(2);
  const auth = (value) => (value ? { authorization: value } : {});
  if (cmd === 'check') {
    const status = await grpcStatus(Number(port), path, readFileSync(bodyFile), auth(rest[0]));
    if (status !== '0') {
      console.error(`h2load check: ${path} answered grpc-status ${status}`);
      process.exit(1);
    }
  } else if (cmd === 'run') {
    const [seconds, rps, logFile, authorization] = rest;
    console.log(JSON.stringify(await h2load({ port, path, bodyFile, headers: auth(authorization), seconds, rps: Number(rps), logFile })));
  } else {
    console.error('usage: node bench/h2load.mjs check PORT PATH BODY_FILE [AUTHORIZATION] | run PORT PATH BODY_FILE SECONDS RPS LOG_FILE [AUTHORIZATION]');
    process.exit(2);
  }
}
