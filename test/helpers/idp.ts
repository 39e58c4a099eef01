// A local identity provider for tests: an HTTPS server (the demo CA's server certificate) publishing an
// OpenID discovery document and a JWKS, with signing keys the test rotates, and switches for the ways
// a real one misbehaves (errors, redirects, slowness, huge or malformed documents).

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { TestCerts } from './certs.js';

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** What /jwks answers instead of the published keys. */
export type JwksBehaviour =
  | { readonly kind: 'keys' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'body'; readonly body: string }
  | { readonly kind: 'hang' };

export class TestIdp {
  /** Keys published in the JWKS (a rotation publishes the new one beside the old, then drops the old). */
  published: SigningKey[] = [];
  behaviour: JwksBehaviour = { kind: 'keys' };
  jwksFetches = 0;
  private server: Server | null = null;
  private port = 0;

  constructor(private readonly certs: TestCerts) {}

  get issuer(): string {
    return `https://localhost:${this.port}`;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  async start(): Promise<this> {
    this.server = createServer({ cert: readFileSync(this.certs.path('server.pem')), key: readFileSync(this.certs.path('server-key.pem')) }, (req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: this.issuer, jwks_uri: this.jwksUri }));
        return;
      }
      if (req.url !== '/jwks') return void res.writeHead(404).end();
      this.jwksFetches++;
      const b = this.behaviour;
      if (b.kind === 'keys') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.published.map((k) => k.publicJwk) }));
      else if (b.kind === 'status') res.writeHead(b.status).end();
      else if (b.kind === 'redirect') res.writeHead(302, { location: b.location }).end();
      else if (b.kind === 'body') res.writeHead(200, { 'content-type': 'application/json' }).end(b.body);
      // 'hang': never answers; the server's close() ends it.
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** A token signed with `key`, issued by this IdP unless the claims say otherwise. */
  sign(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT({ iss: this.issuer, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
  }
}
