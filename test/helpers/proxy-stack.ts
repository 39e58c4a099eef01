// The usual test set-up: the stand-in upstream serving mutual TLS, and the real proxy binary in
// front of it, connected with the demo CA and the proxy's client certificate.
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { onTestFinished } from 'vitest';
import { type Standin, startStandin } from '../../src/standin/standin-server.js';
import { type TestCerts, testCerts } from './certs.js';
import { rawClient } from './raw-client.js';
import { type RunningProxy, startProxy } from './start-proxy.js';

export interface Stack {
  readonly certs: TestCerts;
  readonly standin: Standin;
  readonly proxy: RunningProxy;
  /** A raw client connected to the proxy (plaintext unless the config enables TLS). */
  readonly client: grpc.Client;
  stop(): Promise<void>;
}

export async function startStandinMtls(certs: TestCerts, port = 0): Promise<Standin> {
  return startStandin({
    port,
    tls: {
      cert: readFileSync(certs.path('upstream.pem')),
      key: readFileSync(certs.path('upstream-key.pem')),
      ca: readFileSync(certs.path('ca.pem')),
    },
  });
}

/** Calls the upstream received since index `from`, less the proxy's own health probe. */
export function forwardedSince(standin: Standin, from: number): Standin['calls'] {
  return standin.calls.slice(from).filter((c) => c.path !== '/qdrant.Qdrant/HealthCheck');
}

export function upstreamConfig(certs: TestCerts, port: number): Record<string, unknown> {
  return {
    url: `https://127.0.0.1:${port}`,
    ca_cert: certs.path('ca.pem'),
    cert: certs.path('proxy-client.pem'),
    key: certs.path('proxy-client-key.pem'),
    server_name: 'localhost',
  };
}

export async function startStack(config: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<Stack> {
  const certs = testCerts();
  const standin = await startStandinMtls(certs);
  const proxy = await startProxy({ ...config, upstream: { ...upstreamConfig(certs, standin.port), ...(config.upstream as object) } }, env);
  const client = rawClient(proxy.address);
  const stack: Stack = {
    certs,
    standin,
    proxy,
    client,
    async stop() {
      client.close();
      await proxy.stop();
      await stack.standin.close(); // a test may have replaced the stand-in (restarting the upstream)
      assertNoClientCredentialUpstream(stack.standin, (config.upstream as { api_key?: string } | undefined)?.api_key ?? null);
    },
  };
  return stack;
}

/** Replaces one upstream method's behaviour for the running test only: restored however the test ends. */
export function overrideForTest(standin: Standin, path: string, handler: grpc.UntypedHandleCall): void {
  standin.override(path, handler);
  onTestFinished(() => standin.override(path, null));
}

/** Every call the upstream received carried no client credential: only the proxy's own api-key, if any. */
export function assertNoClientCredentialUpstream(standin: Standin, upstreamApiKey: string | null): void {
  for (const call of standin.calls) {
    const apiKeys = call.metadata.get('api-key');
    const ok =
      call.metadata.get('authorization').length === 0 &&
      (upstreamApiKey === null ? apiKeys.length === 0 : apiKeys.length === 1 && apiKeys[0] === upstreamApiKey);
    if (!ok) throw new Error(`a client credential reached the upstream: ${call.path} ${JSON.stringify(call.metadata.toJSON())}`);
  }
}

/** What the proxy's budgets hold now (its /metrics `qdrant_auth_proxy_held{budget}`). */
export async function held(proxy: RunningProxy, budget: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
  return Number(new RegExp(`^qdrant_auth_proxy_held\\{budget="${budget}"\\} (\\d+)`, 'm').exec(text)?.[1]);
}
