// Starts the real built proxy (dist/cli/main.js) as a child process on port 0 and waits for its
// "listening" log line. Every line it prints is kept, so tests can assert on logs.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const PROXY_BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;

export interface RunningProxy {
  readonly port: number;
  /** The operator HTTP listener (/metrics, /healthz, /readyz), when enabled. */
  readonly metricsPort: number | null;
  readonly address: string;
  readonly process: ChildProcess;
  readonly configFile: string;
  /** Every stdout and stderr line so far. */
  readonly output: string[];
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The first line matching `pattern` at or after output index `since` (0: any line so far). */
  waitForLine(pattern: RegExp, timeoutMs?: number, since?: number): Promise<string>;
}

/** `nodeArgs`: flags for node itself, before the script (e.g. V8 flags). */
export async function startProxy(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'qap-proxy-'));
  const configFile = join(dir, 'config.yaml');
  const withDefaults = {
    log_level: 'DEBUG',
    ...config,
    service: { host: '127.0.0.1', grpc_port: 0, ...(config.service as object) },
    metrics: { port: 0, ...(config.metrics as object) },
    upstream: { health_check_interval_ms: 500, ...(config.upstream as object) },
  };
  writeFileSync(configFile, stringify(withDefaults));
  const child = spawn(process.execPath, [...nodeArgs, PROXY_BIN, 'serve', '--config', configFile], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    output.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitForLine = (pattern: RegExp, timeoutMs = 15_000, since = 0): Promise<string> => {
    const seen = output.slice(since).find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${output.join('\n')}`)), timeoutMs);
      waiters.push({
        pattern,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`proxy exited (${code}) before a line matching ${pattern}; output:\n${output.join('\n')}`));
      });
    });
  };
  let listening: string;
  try {
    listening = await waitForLine(/"msg":"listening"/);
  } catch (err) {
    child.kill('SIGKILL'); // never leave a half-started proxy behind
    throw err;
  }
  const { port, metrics_port: metricsPort } = JSON.parse(listening) as { port: number; metrics_port: number | null };
  return {
    port,
    metricsPort,
    address: `127.0.0.1:${port}`,
    process: child,
    configFile,
    output,
    waitForLine,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface BinResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI once (`qdrant-auth-proxy ARGS`), with `stdin` as its standard input. */
export function runBin(args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROXY_BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
