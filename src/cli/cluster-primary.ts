// `workers: N` (N > 1): this primary process forks N workers that each run the whole proxy and share
// the gRPC port (Node's cluster module hands out connections round-robin), so the proxy can use more
// than one core. The primary serves the operator endpoints for all of them (/metrics aggregated from
// the workers, /readyz only while every worker is serving), forwards SIGHUP, drains the workers on
// SIGTERM/SIGINT, and replaces a worker that dies unexpectedly. Workers that keep dying (a crash
// loop) stop the primary with exit code 1: it never carries on without workers, never exits 0.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { OpsServer } from '../ops/ops-server.js';

/** More unexpected worker exits than this within CRASH_WINDOW_MS is a crash loop. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;

type WorkerMessage = { type: 'listening'; port: number } | { type: 'serving'; serving: boolean; upstreamUp: boolean };

export async function runClusterPrimary(config: Readonly<Config>): Promise<number> {
  const logger = createLogger(config.log_level).child({ role: 'primary' });
  const lifecycle = logger.child({}, { level: 'info' });
  const serving = new Map<number, { serving: boolean; upstreamUp: boolean }>();
  const listening = new Set<number>();
  const alive = new Set<number>();
  let stopping = false;
  let announced = false;
  let port = 0;
  let exitCode = 0;
  const crashes: number[] = [];

  const aggregator = new AggregatorRegistry();
  const ops = config.metrics.enabled
    ? new OpsServer({
        metrics: () => aggregator.clusterMetrics(),
        metricsContentType: aggregator.contentType,
        get serving() {
          return !stopping && serving.size === config.workers && [...serving.values()].every((s) => s.serving);
        },
        get isUpstreamUp() {
          return serving.size > 0 && [...serving.values()].every((s) => s.upstreamUp);
        },
      })
    : null;
  const opsPort = ops ? await ops.listen(config.metrics.host, config.metrics.port) : null;

  const fork = (): Worker => {
    const worker = cluster.fork();
    alive.add(worker.id);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'serving') serving.set(worker.id, { serving: message.serving, upstreamUp: message.upstreamUp });
      if (message.type === 'listening') {
        listening.add(worker.id);
        port = message.port;
        if (!announced && listening.size === config.workers) {
          announced = true;
          lifecycle.info({ host: config.service.host, port, workers: config.workers, metrics_port: opsPort }, 'listening');
        }
      }
    });
    return worker;
  };

  return new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      serving.delete(worker.id);
      alive.delete(worker.id);
      const hadStarted = listening.delete(worker.id);
      if (!stopping && !hadStarted) {
        // It never came up (its own log line says why): starting more would fail the same way.
        logger.fatal({ worker: worker.id, code }, 'a worker failed to start; stopping');
        exitCode = 1;
        stop('SIGTERM');
      } else if (!stopping) {
        const now = Date.now();
        crashes.push(now);
        while (crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
        if (crashes.length > MAX_CRASHES) {
          logger.fatal({ worker: worker.id, code, signal, crashes: crashes.length, window_ms: CRASH_WINDOW_MS }, 'workers keep dying; stopping');
          exitCode = 1;
          stop('SIGTERM');
        } else {
          logger.error({ worker: worker.id, code, signal }, 'worker exited; starting a new one');
          // Not unref'd: while no worker is alive this timer is what keeps the primary running.
          setTimeout(() => stopping || fork(), 1000);
          return;
        }
      }
      if (alive.size === 0) {
        void Promise.resolve(ops?.close()).then(() => {
          lifecycle.info('stopped');
          resolve(exitCode);
        });
      }
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      lifecycle.info({ signal, workers: config.workers }, 'shutting down');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
    for (let i = 0; i < config.workers; i++) fork();
  });
}
