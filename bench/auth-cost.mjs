#!/usr/bin/env node
// Token verification cost, in-process (run by bench/run.sh; results in DIR/verify-cost.json):
// microseconds per `Authenticator.authenticate` of the built proxy (dist/) for Qdrant's HS256 token
// and identity provider tokens (RS256, ES256, keys from a jwks_file), cold (no token cache: every
// call verifies) and warm (the token cache answers). Sequential calls on one core, after a warm-up.
//
//   node bench/verify-cost.mjs DIR [CALLS]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import { Authenticator } from '../dist/auth/authenticate.js';
import { CertificateIdentities } from '../dist/auth/client-certificate.js';
import { KeySources } from '../dist/auth/providers/key-sources.js';
import { parseConfig } from '../dist/config/load.js';
import { buildProviders } from '../dist/engine.js';
import { RequestMetadata } from '../dist/grpc/metadata.js';

const [dir, callsArg] = process.argv.slice(2);
if (!dir) {
  console.error('usage: verify-cost.mjs DIR [CALLS]');
  process.exit(2);
}
const CALLS = Number(callsArg ?? 3000);
const WARMUP = Math.min(500, CALLS);
const SECRET = 'bench-verify-cost-master-key-0123456789';
const access = { access: [{ collection: 'bench', access: 'rw' }] };
const work = mkdtempSync(join(tmpdir(), 'qap-verify-'));

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
  const sources = new KeySources({ now: Date.now, logger: pino({ level: 'silent' }), onFetch: () => undefined });
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
  const out = { calls: CALLS, warmup: WARMUP, node: process.version, results };
  writeFileSync(join(dir, 'verify-cost.json'), `${JSON.stringify(out, null, 1)}\n`);
  for (const [alg, r] of Object.entries(results)) console.error(`bench: verify ${alg}: cold ${r.cold_us.toFixed(1)} µs, warm ${r.warm_us.toFixed(2)} µs`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
