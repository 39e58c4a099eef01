// Reads the YAML file, applies QDRANT__SECTION__KEY environment overrides, validates, and checks the
// cross-key rules. Errors name the key, what was expected and (for non-secrets) what was given.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { grantProblem } from '../auth/grant-shape.js';
import { parseRange } from '../traffic/address-ranges.js';
import type { LimitConfig } from '../traffic/local-limits.js';
import { ConfigError } from './config-error.js';
import { type Config, configSchema } from './schema.js';
import { resolveSecretFiles } from './secret-files.js';

const SECRET_KEY = /(^|_)(api_key|key|secret|password|token)$/;

export function loadConfig(file: string | null, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      // The yaml library's first line ends with a colon, before a code frame: keep the sentence.
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]!.replace(/:\s*$/, '')}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: expected a YAML mapping at the top level`);
  }
  const sources = new Map<string, string>();
  return parseConfig(applyEnvOverrides(raw as Record<string, unknown>, env, sources), sources);
}

/** `sources`: config key (dotted) → the environment variable that set it, named in errors. */
export function parseConfig(raw: unknown, sources: ReadonlyMap<string, string> = new Map()): Readonly<Config> {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
        const named = issue.keys.map((k) => {
          const from = sources.get(prefix + k);
          return from ? `${prefix + k} (from the environment: ${from})` : prefix + k;
        });
        return `${named.join(', ')}: unknown key`;
      }
      const last = String(issue.path[issue.path.length - 1] ?? '');
      const given = SECRET_KEY.test(last) || !('input' in issue) ? '' : `, got ${JSON.stringify(issue.input)}`;
      const from = sources.get(key);
      return `${key}: ${issue.message}${given}${from ? ` (from the environment: ${from})` : ''}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const config = result.data;
  resolveSecretFiles(config);
  checkCrossKeyRules(config);
  return deepFreeze(config);
}

function checkCrossKeyRules(c: Config): void {
  const need = (cond: boolean, message: string) => {
    if (!cond) throw new ConfigError(message);
  };
  if (c.service.enable_tls) {
    need(!!c.tls.cert && !!c.tls.key, 'service.enable_tls: true requires tls.cert and tls.key');
  }
  if (c.service.verify_https_client_certificate) {
    need(c.service.enable_tls, 'service.verify_https_client_certificate: true requires service.enable_tls: true');
    need(!!c.tls.ca_cert, 'service.verify_https_client_certificate: true requires tls.ca_cert');
  }
  const https = c.upstream.url.startsWith('https://');
  if (!https) {
    for (const k of ['ca_cert', 'cert', 'key', 'server_name'] as const) {
      need(c.upstream[k] === null, `upstream.${k}: only valid with an https:// upstream.url`);
    }
  }
  need((c.upstream.cert === null) === (c.upstream.key === null), 'upstream.cert and upstream.key: set both (mutual TLS) or neither');
  if (Object.keys(c.auth.client_cert_identities).length > 0) {
    need(
      c.service.verify_https_client_certificate,
      'auth.client_cert_identities: requires service.verify_https_client_certificate: true (only verified certificates may grant access)',
    );
    const dup = (list: unknown) => Array.isArray(list) && new Set(list.map((e: { collection: string }) => e.collection)).size !== list.length;
    for (const [name, identity] of Object.entries(c.auth.client_cert_identities)) {
      const grant = typeof identity === 'string' || Array.isArray(identity) ? identity : identity.access;
      need(!dup(grant), `auth.client_cert_identities.${name}: a collection is listed twice`);
    }
  }
  checkProviders(c, need);
  checkTenantGrants(c, need);
  checkTraffic(c, need);
  need(c.auth.max_credential_bytes < c.limits.max_metadata_bytes, 'auth.max_credential_bytes: must be below limits.max_metadata_bytes');
  need(
    c.limits.max_buffered_request_bytes >= c.limits.max_message_bytes,
    'limits.max_buffered_request_bytes: must be at least limits.max_message_bytes (the largest request must fit)',
  );
  need(
    c.limits.max_buffered_reply_bytes >= Math.min(c.limits.max_message_bytes, 1024 * 1024),
    'limits.max_buffered_reply_bytes: must be at least 1 MiB (or limits.max_message_bytes when that is smaller)',
  );
  need(
    c.limits.max_buffered_anonymous_bytes >= c.limits.max_anonymous_message_bytes,
    'limits.max_buffered_anonymous_bytes: must be at least limits.max_anonymous_message_bytes',
  );
  if (c.service.alt_api_key !== null) {
    need(c.service.api_key !== null, 'service.alt_api_key: requires service.api_key');
  }
  const keys = [c.service.api_key, c.service.alt_api_key, c.service.read_only_api_key].filter((k) => k !== null);
  need(new Set(keys).size === keys.length, 'service.api_key, service.alt_api_key and service.read_only_api_key must all differ');
}

/** auth.jwt_providers: one key source each, distinct names and issuers, some way to grant access. */
function checkProviders(c: Config, need: (cond: boolean, message: string) => void): void {
  const names = new Set<string>();
  const issuers = new Set<string>();
  for (const p of c.auth.jwt_providers) {
    const at = `auth.jwt_providers ${p.name}`;
    need(!names.has(p.name), `${at}: another provider has this name`);
    need(!issuers.has(p.issuer), `${at}: another provider has issuer ${p.issuer} (a token is routed by its iss)`);
    names.add(p.name);
    issuers.add(p.issuer);
    const sources = [p.jwks_uri !== null, p.jwks_file !== null, p.discovery].filter(Boolean).length;
    need(sources === 1, `${at}: set exactly one of jwks_uri, jwks_file, discovery: true`);
    if (p.discovery) need(p.issuer.startsWith('https://'), `${at}: discovery: true needs an https:// issuer`);
    need(p.access_claim !== null || p.access_rules.length > 0, `${at}: set access_claim or access_rules (a token needs some way to be granted access)`);
    need(new Set(p.algorithms).size === p.algorithms.length, `${at}: algorithms lists one twice`);
    p.access_rules.forEach((rule, i) => {
      const grant = rule.access;
      need(
        typeof grant === 'string' || new Set(grant.map((g) => g.collection)).size === grant.length,
        `${at}: access_rules[${i}].access: a collection is listed twice`,
      );
    });
  }
}

/** A grant's payload (a tenant) only with auth.tenant_isolation; its keys payload paths. */
function checkTenantGrants(c: Config, need: (cond: boolean, message: string) => void): void {
  const grants: [string, unknown][] = [
    ...Object.entries(c.auth.client_cert_identities).map(([name, identity]): [string, unknown] => [
      `auth.client_cert_identities.${name}`,
      typeof identity === 'object' && !Array.isArray(identity) ? identity.access : identity,
    ]),
    ...c.auth.jwt_providers.flatMap((p) => p.access_rules.map((r, i): [string, unknown] => [`auth.jwt_providers ${p.name}: access_rules[${i}]`, r.access])),
  ];
  for (const [at, grant] of grants) {
    const problem = grantProblem(grant, 'access', { payload: true });
    need(problem === null, `${at}: ${problem}`);
    const tenantBound = Array.isArray(grant) && grant.some((g: { payload?: unknown }) => g.payload !== undefined);
    need(!tenantBound || c.auth.tenant_isolation, `${at}: a grant's payload (a tenant) needs auth.tenant_isolation: true`);
  }
}

/** Address ranges that parse, limits that can admit a call, weights no bucket is too small for. */
function checkTraffic(c: Config, need: (cond: boolean, message: string) => void): void {
  const rangeLists: [string, readonly string[]][] = [
    ['service.allowed_source_ranges', c.service.allowed_source_ranges],
    ['service.trusted_proxies', c.service.trusted_proxies],
    ...c.auth.jwt_providers.map((p): [string, readonly string[]] => [`auth.jwt_providers ${p.name}: allowed_source_ranges`, p.allowed_source_ranges]),
    ...Object.entries(c.auth.client_cert_identities).flatMap(([name, identity]): [string, readonly string[]][] =>
      typeof identity === 'object' && !Array.isArray(identity)
        ? [[`auth.client_cert_identities.${name}.allowed_source_ranges`, identity.allowed_source_ranges]]
        : [],
    ),
  ];
  for (const [key, list] of rangeLists) {
    list.forEach((range, i) => {
      try {
        parseRange(range);
      } catch (err) {
        need(false, `${key}[${i}]: ${(err as Error).message}`);
      }
    });
  }
  const { rate_limits: r } = c;
  const limits: [string, LimitConfig][] = [
    ['rate_limits.default', r.default],
    ...Object.entries(r.classes).map(([k, v]): [string, LimitConfig] => [`rate_limits.classes.${k}`, v!]),
    ...Object.entries(r.identities).map(([k, v]): [string, LimitConfig] => [`rate_limits.identities.${k}`, v]),
  ];
  for (const [key, limit] of limits) need(limit.burst === null || limit.calls_per_second !== null, `${key}.burst: only with calls_per_second`);
  for (const key of Object.keys(r.identities))
    need(
      /^(key|sub|idp|cert|apikey|addr|token):./.test(key),
      `rate_limits.identities.${key}: expected key:<id>, sub:<subject>, idp:<provider>:<subject>, cert:<name>, apikey:manage|read, addr:<address> or token:<id>`,
    );
}

/** `QDRANT__SERVICE__API_KEY=x` sets `service.api_key`; `QDRANT__LOG_LEVEL` sets `log_level`. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, sources?: Map<string, string>): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('QDRANT__') || value === undefined) continue;
    const path = name.slice('QDRANT__'.length).toLowerCase().split('__');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new ConfigError(`${name}: not a valid override name`);
    }
    let node: Record<string, unknown> = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || next === null) node[part] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) throw new ConfigError(`${name}: ${part} is not a section`);
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
    sources?.set(path.join('.'), name);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
