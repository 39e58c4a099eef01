#!/usr/bin/env node
// The cost of authentication, in-process, with the built proxy (dist/); run by bench/run.sh.
//
//   node bench/auth-cost.mjs keys-file N FILE KEY_FILE
//       writes a keys file (auth.keys_file) of N named keys to FILE, and one of its keys to KEY_FILE
//   node bench/auth-cost.mjs measure DIR [CALLS]      (results in DIR/auth-cost.json)
//       microseconds per `Authenticator.authenticate` for Qdrant's HS256 token, identity provider
//       tokens (RS256, ES256, keys from a jwks_file), the master key and a named key among 10,000:
//       cold (no token cache: every call verifies) and warm (the token cache answers); and the time
//       to read a 10,000-key file (what start-up and every reload of it cost); the limits
//       stage of a call with local rate limits against none; and the tenant rewrite of a Search
//       request (a 768-dim vector and a client filter). Sequential calls on one core, after a
//       warm-up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import { servedApi } from '../dist/access/compile-rules.js';
import { compileTenantRules, confine } from '../dist/access/tenant-confine.js';
import { loadQdrantApi } from '../dist/api/qdrant-api.js';
import { AuthFiles } from '../dist/auth/auth-files.js';
import { Authenticator } from '../dist/auth/authenticate.js';
import { CertificateIdentities } from '../dist/auth/client-certificate.js';
import { createKey, hashKey } from '../dist/auth/named-keys/key-format.js';
import { KeySources } from '../dist/auth/providers/key-sources.js';
import { parseConfig } from '../dist/config/load.js';
import { buildProviders } from '../dist/engine.js';
import { RequestMetadata } from '../dist/grpc/metadata.js';
import { Limiter } from '../dist/traffic/limiter.js';
import { TrafficPolicy } from '../dist/traffic/traffic-policy.js';

const NAMED_KEYS = 10_000;

/** A keys file of `n` keys (all granting `bench` rw); returns one of its keys. */
function keysFile(n, file) {
  const lines = ['keys:'];
  let sample = null;
  for (let i = 0; i < n; i++) {
    const key = createKey(`bench-${i}`);
    if (i === Math.floor(n / 2)) sample = key;
    lines.push(`  - {id: bench-${i}, hash: "${hashKey(key)}", access: [{collection: bench, access: rw}]}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return sample;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'keys-file') {
  const [n, file, keyFile] = args;
  writeFileSync(keyFile, keysFile(Number(n), file), { mode: 0o600 });
  process.exit(0);
}
if (cmd !== 'measure' || !args[0]) {
  console.error('usage: auth-cost.mjs keys-file N FILE KEY_FILE | measure DIR [CALLS]');
  process.exit(2);
}
const [dir, callsArg] = args;

const CALLS = Number(callsArg ?? 3000);
const WARMUP = Math.min(500, CALLS);
const SECRET = 'bench-verify-cost-master-key-0123456789';
const access = { access: [{ collection: 'bench', access: 'rw' }] };
const work = mkdtempSync(join(tmpdir(), 'qap-auth-cost-'));

try {
  const providers = [];
  const tokens = { HS256: await new SignJWT(access).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET)) };
  for (const alg of ['RS256', 'ES256']) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const issuer = `https://bench-${alg.toLowerCase()}.example.com`;
    const file = join(work, `${alg}.json`);
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: alg, alg, use: 'sig' }] }));
    providers.push({ name: alg, issuer, audiences: ['qdrant'], jwks_file: file, algorithms: [alg], access_claim: 'qdrant' });
    tokens[alg] = await new SignJWT({ aud: 'qdrant', qdrant: access.access, exp: Math.floor(Date.now() / 1000) + 86400 })
      .setProtectedHeader({ alg, kid: alg })
      .setIssuer(issuer)
      .sign(privateKey);
  }
  const config = parseConfig({ service: { api_key: SECRET, jwt_rbac: true }, auth: { jwt_providers: providers } });
  const namedKeysFile = join(work, 'keys.yaml');
  const namedKey = keysFile(NAMED_KEYS, namedKeysFile);
  const silent = pino({ level: 'silent' });
  const files = new AuthFiles({ logger: silent, now: Date.now, onKeyUse: () => undefined, onChange: () => undefined });
  const loadMs = [];
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    files.read({ keys_file: namedKeysFile, revocations_file: null });
    loadMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const { keys: namedKeys } = files.read({ keys_file: namedKeysFile, revocations_file: null });
  tokens.master = SECRET;
  tokens.named_key = namedKey;
  const sources = new KeySources({ now: Date.now, logger: silent, onFetch: () => undefined });
  const authenticator = (tokenCacheSize) =>
    new Authenticator({
      apiKey: SECRET,
      altApiKey: null,
      readOnlyApiKey: null,
      jwtRbac: true,
      maxCredentialBytes: 16384,
      tokenCacheSize,
      certificateIdentities: new CertificateIdentities({}),
      providers: buildProviders(config.auth.jwt_providers, sources),
      namedKeys,
      now: Date.now,
    });
  const cold = authenticator(0);
  const warm = authenticator(100);
  while (sources.statuses().some((s) => s.keys === 0)) await new Promise((r) => setTimeout(r, 10));

  const perCall = async (auth, token) => {
    const metadata = RequestMetadata.of({ authorization: `Bearer ${token}` });
    for (let i = 0; i < WARMUP; i++) await auth.authenticate(metadata);
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) await auth.authenticate(metadata);
    return Number(process.hrtime.bigint() - start) / 1000 / CALLS;
  };
  const results = {};
  for (const [alg, token] of Object.entries(tokens)) results[alg] = { cold_us: await perCall(cold, token), warm_us: await perCall(warm, token) };
  sources.stop();
  // The limits stage of a call (a local bucket and a place in flight, given back), against none configured.
  const limitsUs = {};
  for (const [name, rateLimits] of Object.entries({ none: {}, local: { default: { calls_per_second: 1e6, max_in_flight: 100000 } } })) {
    const policy = new TrafficPolicy(
      parseConfig({ rate_limits: rateLimits }),
      new Limiter({ maxIdentities: 100_000, redis: null, logger: silent, now: Date.now }),
    );
    const principal = { access: 'manage', authType: 'ApiKey' };
    const call = { peer: '127.0.0.1:50000', metadata: RequestMetadata.of({}) };
    const run = (n) => {
      for (let i = 0; i < n; i++) {
        const release = policy.admit(principal, call, '/qdrant.Points/Count');
        release();
      }
    };
    run(WARMUP * 10);
    const start = process.hrtime.bigint();
    run(CALLS * 10);
    limitsUs[name] = Number(process.hrtime.bigint() - start) / 1000 / (CALLS * 10);
  }
  // The tenant rewrite of a Search request: the filter merged with one tenant condition.
  const api = servedApi(loadQdrantApi());
  const tenantRules = compileTenantRules(api);
  const search = api.methods.get('/qdrant.Points/Search').request.encode({
    collection_name: 'bench',
    vector: Array.from({ length: 768 }, (_, i) => Math.sin(i)),
    limit: 10,
    filter: { must: [{ field: { key: 'kind', match: { keyword: 'doc' } } }] },
  });
  const tenant = [{ key: 'tenant', value: 'bench' }];
  const noLookup = async () => new Set();
  const rewrite = async (n) => {
    for (let i = 0; i < n; i++) await confine(tenantRules, '/qdrant.Points/Search', 'bench', search, tenant, noLookup);
  };
  await rewrite(WARMUP * 10);
  const rewriteStart = process.hrtime.bigint();
  await rewrite(CALLS * 10);
  const tenantSearchUs = Number(process.hrtime.bigint() - rewriteStart) / 1000 / (CALLS * 10);
  const keysFileMs = loadMs.sort((a, b) => a - b)[2];
  const out = {
    calls: CALLS,
    warmup: WARMUP,
    node: process.version,
    results,
    keys_file: { keys: NAMED_KEYS, read_ms_median_of_5: keysFileMs },
    limits_us: limitsUs,
    tenant_rewrite_search_us: tenantSearchUs,
  };
  writeFileSync(join(dir, 'auth-cost.json'), `${JSON.stringify(out, null, 1)}\n`);
  for (const [name, r] of Object.entries(results))
    console.error(`bench: authenticate ${name}: cold ${r.cold_us.toFixed(1)} µs, warm ${r.warm_us.toFixed(2)} µs`);
  console.error(`bench: reading a ${NAMED_KEYS}-key keys file: ${keysFileMs.toFixed(0)} ms`);
  console.error(`bench: the limits stage: ${limitsUs.local.toFixed(2)} µs per call with local limits, ${limitsUs.none.toFixed(2)} µs with none`);
  console.error(`bench: the tenant rewrite of a Search request (${search.length} bytes): ${tenantSearchUs.toFixed(2)} µs`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
