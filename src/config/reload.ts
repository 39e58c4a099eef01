// What a SIGHUP may change. Keys, access settings, audit settings and log level change in place;
// sections holding sockets, channels or the loaded API keep their start-up values until a restart.
import type { Config } from './schema.js';

const RESTART_ONLY = ['workers', 'upstream', 'api', 'limits', 'shutdown', 'tls', 'metrics'] as const;
const LISTENER_KEYS = ['host', 'grpc_port', 'enable_tls', 'verify_https_client_certificate'] as const;

/** The config to run with after a reload, and the changed keys that need a restart to apply. */
export function reloadedConfig(running: Readonly<Config>, next: Readonly<Config>): { config: Readonly<Config>; needRestart: string[] } {
  const needRestart: string[] = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(running[k]));
  for (const k of LISTENER_KEYS) if (next.service[k] !== running.service[k]) needRestart.push(`service.${k}`);
  const service = { ...next.service };
  for (const k of LISTENER_KEYS) (service as Record<string, unknown>)[k] = running.service[k];
  const config = Object.freeze({
    ...next,
    ...Object.fromEntries(RESTART_ONLY.map((k) => [k, running[k]])),
    service: Object.freeze(service),
  }) as Readonly<Config>;
  return { config, needRestart };
}
