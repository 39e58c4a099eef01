// `workers: 2`: two processes share the gRPC port; the primary aggregates metrics, forwards SIGHUP
// and drains the workers on SIGTERM.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Standin } from '../../src/standin/standin-server.js';
import { testCerts } from '../helpers/certs.js';
import { startStandinMtls, upstreamConfig } from '../helpers/proxy-stack.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { type RunningProxy, startProxy } from '../helpers/start-proxy.js';
import { until } from '../helpers/wait.js';

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
    for (const c of clients)
      for (let i = 0; i < 5; i++) expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key' }))).code).toBe(0);
    for (const c of clients) c.close();
    const text = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('qdrant_auth_proxy_calls_total{method="/qdrant.Collections/List",decision="allowed",code="0"'));
    expect(Number(line?.split(' ').pop())).toBe(20);
    const workers = new Set(proxy.output.filter((l) => l.includes('"worker listening"')).map((l) => (JSON.parse(l) as { worker: number }).worker));
    expect(workers.size).toBe(2);
    expect((await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`)).status).toBe(200);
  });

  it('SIGHUP reaches every worker; SIGTERM drains them and exits 0', async () => {
    const base = {
      log_level: 'DEBUG',
      workers: 2,
      service: { host: '127.0.0.1', grpc_port: 0 },
      metrics: { port: 0 },
      upstream: upstreamConfig(certs, standin.port),
    };
    writeFileSync(proxy.configFile, stringify({ ...base, service: { ...base.service, api_key: 'cluster-key-2' } }));
    proxy.process.kill('SIGHUP');
    await until(() => proxy.output.filter((l) => l.includes('config reloaded')).length === 2, 10_000, 'both workers reloaded');
    const clients = [0, 1, 2, 3].map(() => rawClient(proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    for (const c of clients) {
      expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key-2' }))).code).toBe(0);
      expect((await rawUnary(c, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'cluster-key' }))).code).toBe(16);
      c.close();
    }
    expect(await proxy.stop('SIGTERM')).toBe(0);
  });
});

describe('workers that keep dying', () => {
  /** Live children of a process (the workers of a cluster primary). */
  const childrenOf = (pid: number): number[] => {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  };

  it('are replaced (the primary never exits 0 with none left, metrics on or off); a crash loop stops the primary with exit code 1', async () => {
    const p = await startProxy({ workers: 2, metrics: { enabled: false }, service: { api_key: 'cluster-key' }, upstream: upstreamConfig(certs, standin.port) });
    const listening = () => p.output.filter((l) => l.includes('"worker listening"')).length;
    const exited = new Promise<number | null>((resolve) => p.process.once('exit', (code) => resolve(code)));
    // Workers log asynchronously: wait for both lines before killing them (a killed worker loses what it had not written).
    await until(() => listening() === 2, 10_000, 'both workers listening');
    for (let round = 1; round <= 3; round++) {
      const workers = childrenOf(p.process.pid!);
      expect(workers).toHaveLength(2);
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      const want = 2 + 2 * round;
      if (round < 3) {
        await until(() => listening() === want, 15_000, `round ${round}: both workers replaced`);
        expect(p.process.exitCode).toBeNull();
      }
    }
    expect(await exited).toBe(1);
    expect(p.output.some((l) => l.includes('workers keep dying; stopping'))).toBe(true);
  }, 60_000);
});
