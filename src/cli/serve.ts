// `qdrant-auth-proxy serve`: wires config, engine, upstream, server and operator endpoints together,
// and handles the process signals (SIGTERM/SIGINT drain and exit 0, SIGHUP reload).
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { AggregatorRegistry } from 'prom-client';
import { compileRules, servedApi } from '../access/compile-rules.js';
import { compileTenantRules } from '../access/tenant-confine.js';
import { loadQdrantApi } from '../api/qdrant-api.js';
import { prepareAuditDir } from '../audit/audit-dir.js';
import { AuditLog } from '../audit/audit-log.js';
import { AuthFiles } from '../auth/auth-files.js';
import { KeySources } from '../auth/providers/key-sources.js';
import { CallRecorder } from '../chain/call-record.js';
import { loadConfig } from '../config/load.js';
import { reloadedConfig } from '../config/reload.js';
import type { Config } from '../config/schema.js';
import { authSummary, configWarnings } from '../config/warnings.js';
import { buildEngine, type Engine } from '../engine.js';
import { createLogger, type Logger, setLogLevel } from '../log/logger.js';
import { installLeanAsyncBind } from '../ops/async-bind.js';
import { HEAP_GROWING_PERCENT, tuneHeap } from '../ops/heap-tuning.js';
import { ProxyMetrics } from '../ops/metrics.js';
import { OpsServer } from '../ops/ops-server.js';
import { ServingState } from '../ops/serving-state.js';
import { ProxyServer } from '../server/proxy-server.js';
import { createServerTls } from '../server/server-tls.js';
import { Limiter } from '../traffic/limiter.js';
import { createOwnedIdsLookup, createScrollLookup } from '../upstream/scroll-lookup.js';
import { createUpstream } from '../upstream/upstream-channel.js';
import { UpstreamProbe } from '../upstream/upstream-probe.js';
import { runClusterPrimary } from './cluster-primary.js';

/** The auth mode in one line, and a WARN line for each unsafe choice (src/config/warnings.ts). */
function announceConfig(logger: Logger, config: Readonly<Config>): void {
  logger.info({ auth: authSummary(config) }, 'authentication');
  for (const warning of configWarnings(config)) logger.warn({ warning }, 'unsafe configuration');
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function serve(file: string | null): Promise<number> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(file);
  } catch (err) {
    console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (config.workers > 1 && cluster.isPrimary) return runClusterPrimary(config);
  const heapTuned = tuneHeap();
  const leanAsyncBind = installLeanAsyncBind();
  // Signals are taken over before anything starts: a SIGTERM during start-up must not kill the
  // process half-way (it stops it right after start-up instead); a SIGHUP then is moot.
  let earlyStop: string | null = null;
  let onSignal = (signal: NodeJS.Signals) => {
    if (signal !== 'SIGHUP') earlyStop ??= signal;
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => onSignal(signal));
  const logger = createLogger(config.log_level);
  // Start, reload and stop are always logged, whatever log_level says: supervisors and tests wait on them.
  const lifecycle = logger.child({}, { level: 'info' });
  // What start-up has opened so far, closed again if a later step fails.
  const opened: (() => void)[] = [];
  try {
    const api = servedApi(loadQdrantApi(config.api.proto_dir ?? undefined));
    const upstream = createUpstream(config, logger);
    const { forwarder } = upstream;
    opened.push(() => forwarder.close());
    const serverTls = createServerTls(config, logger);
    const metrics = new ProxyMetrics(VERSION, api.source, config.metrics.enabled);
    const state = new ServingState(new Set([...api.methods.keys()].map((p) => p.slice(1, p.indexOf('/', 1)))));
    state.onChange((serving) => metrics.setServing(serving));
    const rules = compileRules(api);
    const tenant = compileTenantRules(api);
    const keySources = new KeySources({ now: Date.now, logger, onFetch: (provider, ok) => metrics.keyFetch(provider, ok) });
    opened.push(() => keySources.stop());
    metrics.watchKeySets(() => keySources.statuses());
    // Rate-limit buckets live as long as the process (a reload changes the limits, not the counts).
    const limiter = new Limiter({
      maxIdentities: config.rate_limits.max_identities,
      redis: config.rate_limits.redis_url
        ? {
            url: config.rate_limits.redis_url,
            timeoutMs: config.rate_limits.redis_timeout_ms,
            keyPrefix: config.rate_limits.redis_key_prefix,
            leaseMs: config.limits.max_call_timeout_ms || 600_000,
          }
        : null,
      logger,
      now: () => performance.now(),
      onRedis: (seconds, ok) => metrics.redisCheck(seconds, ok),
      onStore: (store) => metrics.setLimitStore(store),
    });
    opened.push(() => limiter.close());
    metrics.watchLimiter(() => limiter.localIdentities);
    // The config in force (a reload replaces it) and the auth files it names, followed as they change.
    let current = config;
    const authFiles = new AuthFiles({
      logger,
      now: Date.now,
      onKeyUse: (use) => metrics.namedKeyUse(use.id, use.outcome),
      onChange: (files, file) => {
        // The providers in force stay as they are: an auth file change reads nothing else.
        server.setEngine(engineFor(current, files, server.engineInForce().providers));
        lifecycle.info({ file, named_keys: files.keys?.size ?? null, revocations: files.revocations.size }, 'auth files reloaded');
      },
    });
    opened.push(() => authFiles.stop());
    authFiles.configure(config.auth);
    metrics.watchNamedKeys(() => {
      const keys = authFiles.state.keys;
      return keys ? { count: keys.size, soonestExpirySeconds: keys.soonestExpirySeconds(Date.now()) } : null;
    });
    const engineFor = (c: Readonly<Config>, files = authFiles.state, providers?: Engine['providers']) =>
      buildEngine(c, {
        ...(providers ? { providers } : {}),
        api,
        rules,
        logger,
        scroll: createScrollLookup(api, forwarder, c.auth.value_exists_timeout_ms, c.limits.max_message_bytes),
        tenant,
        ownedIds: createOwnedIdsLookup(api, forwarder, c.auth.value_exists_timeout_ms, c.limits.max_message_bytes),
        onValueExists: (hit) => metrics.valueExistsLookup(hit),
        keySources,
        onProviderToken: (provider, outcome) => metrics.providerToken(provider, outcome),
        authFiles: files,
        onRevoked: (reason) => metrics.revocation(reason),
        limiter,
        traffic: {
          onRefusal: (refusal, mode) => metrics.trafficRefusal(refusal.rule, refusal.accessClass, mode),
          onShadowAccess: () => metrics.trafficRefusal('access', 'any', 'shadow'),
        },
      });
    const audit = new AuditLog(config.audit, logger);
    const server = new ProxyServer(engineFor(config), {
      methods: api.methods,
      rules,
      forwarder,
      logger,
      recorder: new CallRecorder(audit, metrics, logger),
      state,
      tls: serverTls.tls,
      descriptorFiles: api.descriptorFiles,
      metrics,
    });
    const probe = new UpstreamProbe(forwarder, config.upstream.health_check_interval_ms, (up, detail) => {
      if (up !== state.isUpstreamUp) up ? logger.info({}, 'upstream is up') : logger.warn({ detail }, 'upstream is down');
      state.setUpstreamUp(up);
      metrics.setUpstreamUp(up);
    });
    opened.push(() => server.forceShutdown());
    await limiter.connected();
    const port = await server.listen();
    const certReloadMs = (config.tls.cert_ttl ?? 3600) * 1000;
    serverTls.certificates?.start(certReloadMs);
    upstream.certificates?.start(certReloadMs);
    opened.push(
      () => serverTls.certificates?.stop(),
      () => upstream.certificates?.stop(),
    );
    // In a cluster worker the primary serves the operator endpoints (src/cli/cluster-primary.ts).
    const ops =
      config.metrics.enabled && !cluster.isWorker
        ? new OpsServer({
            metrics: () => metrics.registry.metrics(),
            metricsContentType: metrics.registry.contentType,
            get serving() {
              return state.serving;
            },
            get isUpstreamUp() {
              return state.isUpstreamUp;
            },
            providers: () => keySources.statuses(),
          })
        : null;
    if (cluster.isWorker) {
      if (config.metrics.enabled) {
        // prom-client installs a worker's answer to the primary's metrics requests in this constructor.
        new AggregatorRegistry();
        AggregatorRegistry.setRegistries([metrics.registry]);
      }
      state.onChange((serving) => process.send?.({ type: 'serving', serving, upstreamUp: state.isUpstreamUp }));
    }
    const opsPort = ops ? await ops.listen(config.metrics.host, config.metrics.port) : null;
    probe.start();
    const ready = {
      host: config.service.host,
      port,
      tls: config.service.enable_tls,
      upstream: config.upstream.url,
      methods: api.methods.size,
      api: api.source,
      metrics_port: opsPort,
      heap_growing_percent: heapTuned ? HEAP_GROWING_PERCENT : 'set by the operator',
      lean_async_bind: leanAsyncBind,
    };
    announceConfig(lifecycle, config);
    if (cluster.isWorker) {
      lifecycle.info({ ...ready, worker: cluster.worker?.id }, 'worker listening');
      process.send?.({ type: 'listening', port });
    } else {
      lifecycle.info(ready, 'listening');
    }

    return await new Promise<number>((resolve) => {
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        const { grace_seconds, drain_seconds } = config.shutdown;
        lifecycle.info({ signal, grace_seconds, drain_seconds }, 'shutting down');
        state.startDraining(); // health NOT_SERVING, /readyz 503: load balancers stop sending
        await new Promise((r) => setTimeout(r, grace_seconds * 1000));
        await server.shutdown(drain_seconds * 1000);
        probe.stop();
        serverTls.certificates?.stop();
        upstream.certificates?.stop();
        keySources.stop();
        authFiles.stop();
        limiter.close();
        forwarder.close();
        await Promise.all([audit.close(), ops?.close()]);
        lifecycle.info('stopped');
        logger.flush();
        if (cluster.isWorker) process.disconnect(); // the IPC channel to the primary would keep the process alive
        resolve(0);
      };
      const reload = () => {
        try {
          const { config: next, needRestart } = reloadedConfig(config, loadConfig(file));
          // Whatever can fail is done first; what is in force changes only once all of it succeeded
          // (key sources read their CA files before any source changes).
          const files = authFiles.read(next.auth);
          if (next.audit.enabled) prepareAuditDir(next.audit.dir);
          const engine = engineFor(next, files);
          audit.reconfigure(next.audit);
          authFiles.commit(next.auth, files);
          current = next;
          server.setEngine(engine);
          setLogLevel(logger, next.log_level);
          lifecycle.info({ unchanged_until_restart: needRestart }, 'config reloaded');
          announceConfig(lifecycle, next);
        } catch (err) {
          logger.error({ err: err instanceof Error ? err.message : String(err) }, 'config reload refused; the previous config stays in use');
        }
      };
      onSignal = (signal) => (signal === 'SIGHUP' ? reload() : void stop(signal));
      if (earlyStop) void stop(earlyStop);
    });
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'failed to start');
    for (const close of opened.reverse()) close();
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    return 1;
  }
}
