// `workers: 2`: two processes share the gRPC port; the primary aggregates metrics, forwards SIGHUP
// and drains the workers on SIGTERM.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { testCerts } from '../helpers/certs.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { startStandinMtls, upstreamConfig } from '../helpers/proxy-stack.js';
import { startProxy, type RunningProxy } from '../helpers/start-proxy.js';
import type { Standin } from '../../src/standin/standin-server.js';

const certs = testCerts();
let standin: Standin;
let proxy: RunningProxy;

beforeAll(async () => {
  standin = await startStandinMtls(certs);
  proxy = await startProxy({ workers: 2, service: { api_key: 'cluster-key' }, upstream: upstreamConfig(certs, standin.port) });
});
afterAll(async () => {
  await proxy?.stop();
  await standin?.close();
});

describe('workers: 2', () => {
  it('serves from both workers, with metrics aggregated by the primary', async () => {
    const clients = [0, 1, 2, 3].map(() => rawClient(proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    for (const c of clients) for (let i = 0; i < 5; i++) expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key' }))).code).toBe(0);
    for (const c of clients) c.close();
    const text = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('qdrant_auth_proxy_calls_total{method="/qdrant.Collections/List",decision="allowed",code="0"'));
    expect(Number(line?.split(' ').pop())).toBe(20);
    const workers = new Set(proxy.output.filter((l) => l.includes('"worker listening"')).map((l) => (JSON.parse(l) as { worker: number }).worker));
    expect(workers.size).toBe(2);
    expect((await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`)).status).toBe(200);
  });

  it('SIGHUP reaches every worker; SIGTERM drains them and exits 0', async () => {
    const base = { log_level: 'DEBUG', workers: 2, service: { host: '127.0.0.1', grpc_port: 0 }, metrics: { port: 0 }, upstream: upstreamConfig(certs, standin.port) };
    writeFileSync(proxy.configFile, stringify({ ...base, service: { ...base.service, api_key: 'cluster-key-2' } }));
    proxy.process.kill('SIGHUP');
    await proxy.waitForLine(/config reloaded/);
    await new Promise((r) => setTimeout(r, 300));
    expect(proxy.output.filter((l) => l.includes('config reloaded'))).toHaveLength(2);
    const clients = [0, 1, 2, 3].map(() => rawClient(proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    for (const c of clients) {
      expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key-2' }))).code).toBe(0);
      expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key' }))).code).toBe(16);
      c.close();
    }
    expect(await proxy.stop('SIGTERM')).toBe(0);
  });
});
