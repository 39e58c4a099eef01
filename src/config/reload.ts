// What a SIGHUP may change. Keys, access settings, traffic rules, audit settings and log level
// change in place; sections holding sockets, channels, the rate-limit store or the loaded API keep
// their start-up values until a restart.
import type { Config } from './schema.js';

const RESTART_ONLY = ['workers', 'upstream', 'api', 'limits', 'shutdown', 'tls', 'metrics'] as const;
const LISTENER_KEYS = ['host', 'grpc_port', 'enable_tls', 'verify_https_client_certificate'] as const;
/** The rate-limit store (its connection, its buckets' memory) is made once; the limits themselves reload. */
const STORE_KEYS = ['redis_url', 'redis_timeout_ms', 'redis_key_prefix', 'max_identities'] as const;

/** The config to run with after a reload, and the changed keys that need a restart to apply. */
export function reloadedConfig(running: Readonly<Config>, next: Readonly<Config>): { config: Readonly<Config>; needRestart: string[] } {
  const needRestart: string[] = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(running[k]));
  for (const k of LISTENER_KEYS) if (next.service[k] !== running.service[k]) needRestart.push(`service.${k}`);
  for (const k of STORE_KEYS) if (next.rate_limits[k] !== running.rate_limits[k]) needRestart.push(`rate_limits.${k}`);
  const service = { ...next.service };
  for (const k of LISTENER_KEYS) (service as Record<string, unknown>)[k] = running.service[k];
  const rateLimits = { ...next.rate_limits };
  for (const k of STORE_KEYS) (rateLimits as Record<string, unknown>)[k] = running.rate_limits[k];
  const config = Object.freeze({
    ...next,
    ...Object.fromEntries(RESTART_ONLY.map((k) => [k, running[k]])),
    service: Object.freeze(service),
    rate_limits: Object.freeze(rateLimits),
  }) as Readonly<Config>;
  return { config, needRestart };
}
