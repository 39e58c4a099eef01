// What a running proxy should tell its operator about its config: unsafe choices (logged as WARN at
// start-up and after a reload, printed by check-config) and a one-line summary of how calls are
// authenticated. None of them stops the proxy.

import { AddressRanges, parseRange } from '../traffic/address-ranges.js';
import { depthOf, limitOf } from '../traffic/local-limits.js';
import type { Config } from './schema.js';
import { groupReadableSecretFiles } from './secret-files.js';

/** Shorter keys are guessable; the demo makes 24-character ones. */
export const MIN_KEY_LENGTH = 24;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function configWarnings(config: Readonly<Config>): string[] {
  const { service, auth, metrics } = config;
  const out: string[] = [];
  const keys = { 'service.api_key': service.api_key, 'service.alt_api_key': service.alt_api_key, 'service.read_only_api_key': service.read_only_api_key };
  const noKeys = Object.values(keys).every((k) => k === null);
  if (noKeys && Object.keys(auth.client_cert_identities).length === 0 && auth.jwt_providers.length === 0 && auth.keys_file === null) {
    out.push('no authentication: every client has full (manage) access to Qdrant; set service.api_key');
  }
  if (!LOOPBACK.test(service.host) && !service.enable_tls) {
    out.push(
      `service.host ${service.host} is reachable beyond this machine without TLS: credentials and data cross the network in clear; set service.enable_tls`,
    );
  }
  if (service.jwt_rbac && service.api_key === null) {
    out.push('service.jwt_rbac is on but service.api_key is not set: JWTs cannot be verified and are refused');
  }
  for (const [name, key] of Object.entries(keys)) {
    if (key !== null && key.length < MIN_KEY_LENGTH) out.push(`${name} is ${key.length} characters long: use at least ${MIN_KEY_LENGTH} random ones`);
  }
  for (const p of auth.jwt_providers) {
    if (!p.require_exp) out.push(`auth.jwt_providers ${p.name}: require_exp is false: a token without exp is valid until its provider's keys rotate`);
  }
  out.push(...groupReadableSecretFiles(config));
  out.push(...trafficWarnings(config));
  if (metrics.enabled && !LOOPBACK.test(metrics.host)) {
    out.push(`metrics.host ${metrics.host}: /metrics, /healthz and /readyz need no credential; expose them only to your monitoring`);
  }
  return out;
}

/** One line: how calls are authenticated under this config. */
export function authSummary(config: Readonly<Config>): string {
  const { service, auth } = config;
  const parts: string[] = [];
  if (service.api_key !== null) parts.push(service.alt_api_key !== null ? 'api keys (manage, alternate)' : 'api key (manage)');
  if (service.read_only_api_key !== null) parts.push('read-only key');
  if (service.jwt_rbac && service.api_key !== null) parts.push('JWT RBAC (HS256)');
  const identities = Object.keys(auth.client_cert_identities).length;
  if (identities > 0) parts.push(`${identities} client certificate identit${identities === 1 ? 'y' : 'ies'}`);
  if (auth.keys_file !== null) parts.push(`named keys (${auth.keys_file})`);
  if (auth.revocations_file !== null) parts.push(`revocations (${auth.revocations_file})`);
  if (auth.jwt_providers.length > 0) parts.push(`identity providers (${auth.jwt_providers.map((p) => p.name).join(', ')})`);
  return parts.length === 0 ? 'none: every call has manage access' : parts.join(', ');
}

/** Traffic rules that contradict each other, and policy parts that only report. */
function trafficWarnings(config: Readonly<Config>): string[] {
  const out: string[] = [];
  for (const [part, mode] of Object.entries(config.policy_mode))
    if (mode === 'shadow') out.push(`policy_mode.${part} is shadow: what it would refuse is only audited (result "shadow_denied"), and let through`);
  // A weight above a bucket's depth counts as the depth: say so, it is rarely what was meant.
  const r = config.rate_limits;
  const heaviest = Math.max(1, ...Object.values(r.method_weights));
  const limits: [string, (typeof r)['default']][] = [
    ['rate_limits.default', r.default],
    ...Object.entries(r.classes).map(([k, v]): [string, (typeof r)['default']] => [`rate_limits.classes.${k}`, v!]),
    ...Object.entries(r.identities).map(([k, v]): [string, (typeof r)['default']] => [`rate_limits.identities.${k}`, v]),
  ];
  for (const [key, limit] of limits) {
    if (limit.calls_per_second === null) continue;
    const depth = depthOf(limitOf(limit));
    if (depth < heaviest) out.push(`${key}: a bucket of ${depth} is smaller than the heaviest method weight (${heaviest}): such calls cost ${depth} instead`);
  }
  const allowed = new AddressRanges(config.service.allowed_source_ranges);
  if (allowed.empty) return out;
  // An identity whose own ranges all lie outside the global list can never be used.
  const outside = (ranges: readonly string[]) => ranges.length > 0 && ranges.every((r) => !allowed.has(parseRange(r).address));
  for (const p of config.auth.jwt_providers)
    if (outside(p.allowed_source_ranges))
      out.push(`auth.jwt_providers ${p.name}: allowed_source_ranges lie outside service.allowed_source_ranges: its tokens can never be used`);
  for (const [name, identity] of Object.entries(config.auth.client_cert_identities))
    if (typeof identity === 'object' && !Array.isArray(identity) && outside(identity.allowed_source_ranges))
      out.push(`auth.client_cert_identities.${name}: allowed_source_ranges lie outside service.allowed_source_ranges: it can never be used`);
  return out;
}
