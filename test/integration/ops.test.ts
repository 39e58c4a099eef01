// What an operator points at the proxy: Prometheus /metrics, /healthz and /readyz, gRPC health
// (Check and Watch), server reflection, SIGHUP reload and the SIGTERM grace period.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Stack, startStack, startStandinMtls, upstreamConfig } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { startProxy } from '../helpers/start-proxy.js';
import { until } from '../helpers/wait.js';

const KEY = 'ops-key-1';
const require = createRequire(import.meta.url);
const reflectionProto = (version: string) => require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
const load = (file: string) => grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true, enums: String }));
const healthPkg = load(healthProto) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
type ReflectionPackage = { grpc: { reflection: Record<'v1' | 'v1alpha', { ServerReflection: grpc.ServiceClientConstructor }> } };
const reflectionPkg = {
  grpc: {
    reflection: {
      v1: (load(reflectionProto('v1')) as unknown as ReflectionPackage).grpc.reflection.v1,
      v1alpha: (load(reflectionProto('v1alpha')) as unknown as ReflectionPackage).grpc.reflection.v1alpha,
    },
  },
};

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

describe('metrics, health, readiness', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ service: { api_key: KEY, jwt_rbac: true } });
    await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).status === 200);
  });
  afterAll(async () => stack?.stop());

  it('counts exactly the calls made, by method, decision and code', async () => {
    for (let i = 0; i < 3; i++) await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': KEY }));
    for (let i = 0; i < 2; i++) await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': 'wrong' }));
    const token = await new SignJWT({ access: [{ collection: 'x', access: 'r' }] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(KEY));
    await rawUnary(stack.client, '/qdrant.Collections/Create', Buffer.alloc(0), md({ authorization: `Bearer ${token}` }));
    const { status, text } = await get(stack.proxy.metricsPort!, '/metrics');
    expect(status).toBe(200);
    const value = (line: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(line))
          ?.slice(line.length)
          .trim(),
      );
    expect(value('qdrant_auth_proxy_calls_total{method="/qdrant.Collections/List",decision="allowed",code="0"}')).toBe(3);
    expect(value('qdrant_auth_proxy_calls_total{method="/qdrant.Collections/List",decision="unauthenticated",code="16"}')).toBe(2);
    expect(value('qdrant_auth_proxy_calls_total{method="/qdrant.Collections/Create",decision="denied",code="7"}')).toBe(1);
    expect(value('qdrant_auth_proxy_upstream_duration_seconds_count{method="/qdrant.Collections/List"}')).toBe(3);
    expect(value('qdrant_auth_proxy_proxy_duration_seconds_count{method="/qdrant.Collections/List"}')).toBe(5);
    expect(value('qdrant_auth_proxy_upstream_up')).toBe(1);
    expect(text).toMatch(/qdrant_auth_proxy_build_info\{version="\d+\.\d+\.\d+",qdrant_api="[^"]+",node="v\d+/);
    expect(text).not.toContain(KEY);
  });

  it('/healthz is alive; /readyz and gRPC health follow the upstream', async () => {
    const health = new healthPkg.grpc.health.v1.Health(stack.proxy.address, grpc.credentials.createInsecure());
    const check = () =>
      new Promise<string>((resolve, reject) =>
        (health as unknown as { Check: (r: object, cb: (e: Error | null, v: { status: string }) => void) => void }).Check({ service: '' }, (e, v) =>
          e ? reject(e) : resolve(v.status),
        ),
      );
    const watched: string[] = [];
    const watch = (health as unknown as { Watch: (r: object) => grpc.ClientReadableStream<{ status: string }> }).Watch({ service: '' });
    watch.on('data', (m) => watched.push(m.status));
    watch.on('error', () => undefined);
    expect(await check()).toBe('SERVING');
    expect((await get(stack.proxy.metricsPort!, '/healthz')).status).toBe(200);

    const port = stack.standin.port;
    await stack.standin.close();
    await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).status === 503);
    expect(await check()).toBe('NOT_SERVING');
    expect((await get(stack.proxy.metricsPort!, '/healthz')).status).toBe(200);

    (stack as { standin: unknown }).standin = await startStandinMtls(stack.certs, port);
    await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).status === 200);
    expect(await check()).toBe('SERVING');
    await until(async () => watched.join() === 'SERVING,NOT_SERVING,SERVING');
    watch.cancel();
    health.close();
  });

  it("reflection (v1 and v1alpha, built on first use) lists and describes Qdrant's services to a valid credential, and refuses anonymous callers", async () => {
    type Reply = {
      list_services_response?: { service: { name: string }[] };
      file_descriptor_response?: { file_descriptor_proto: Buffer[] };
      error_response?: { error_code: number };
    };
    const ask = (version: 'v1' | 'v1alpha', metadata: grpc.Metadata, request: object) => {
      const client = new reflectionPkg.grpc.reflection[version].ServerReflection(stack.proxy.address, grpc.credentials.createInsecure());
      return new Promise<Reply | grpc.ServiceError>((resolve) => {
        const call = (client as unknown as { ServerReflectionInfo: (m: grpc.Metadata) => grpc.ClientDuplexStream<object, Reply> }).ServerReflectionInfo(
          metadata,
        );
        call.on('data', (m: Reply) => {
          resolve(m);
          call.end();
          client.close();
        });
        call.on('error', (e: grpc.ServiceError) => {
          resolve(e);
          client.close();
        });
        call.write(request);
      });
    };
    for (const version of ['v1', 'v1alpha'] as const) {
      const listed = await ask(version, md({ 'api-key': KEY }), { list_services: '*' });
      expect('list_services_response' in listed && listed.list_services_response!.service.map((s) => s.name)).toEqual(
        expect.arrayContaining(['qdrant.Collections', 'qdrant.Points', 'qdrant.Snapshots', 'qdrant.Qdrant', 'grpc.health.v1.Health']),
      );
      for (const symbol of ['qdrant.Points', 'qdrant.QueryPoints', 'grpc.health.v1.Health']) {
        const described = await ask(version, md({ 'api-key': KEY }), { file_containing_symbol: symbol });
        expect('file_descriptor_response' in described && described.file_descriptor_response!.file_descriptor_proto.length).toBeGreaterThan(0);
      }
      const refused = await ask(version, new grpc.Metadata(), { list_services: '*' });
      expect('code' in refused && refused.code).toBe(grpc.status.UNAUTHENTICATED);
    }
  });
});

describe('signals', () => {
  it('SIGHUP reloads keys without a restart, and refuses a broken file', async () => {
    const { testCerts } = await import('../helpers/certs.js');
    const certs = testCerts();
    const standin = await startStandinMtls(certs);
    const proxy = await startProxy({ service: { api_key: 'first-key' }, upstream: upstreamConfig(certs, standin.port) });
    const { rawClient } = await import('../helpers/raw-client.js');
    const client = rawClient(proxy.address);
    const list = async (key: string) => (await rawUnary(client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': key }))).code;
    expect(await list('first-key')).toBe(0);

    const base = { log_level: 'DEBUG', service: { host: '127.0.0.1', grpc_port: 0 }, metrics: { port: 0 }, upstream: upstreamConfig(certs, standin.port) };
    writeFileSync(proxy.configFile, stringify({ ...base, service: { ...base.service, api_key: 'second-key' } }));
    proxy.process.kill('SIGHUP');
    await proxy.waitForLine(/config reloaded/);
    expect(await list('second-key')).toBe(0);
    expect(await list('first-key')).toBe(16);

    writeFileSync(proxy.configFile, 'service: { grpc_port: "not a port" }');
    proxy.process.kill('SIGHUP');
    await proxy.waitForLine(/config reload refused/);
    expect(await list('second-key')).toBe(0);
    expect(proxy.output.join('\n')).not.toMatch(/first-key|second-key/);
    client.close();
    expect(await proxy.stop()).toBe(0);
    await standin.close();
  });

  it('SIGTERM reports NOT_SERVING during the grace period while still serving, then exits 0', async () => {
    const stack = await startStack({ shutdown: { grace_seconds: 2, drain_seconds: 5 } });
    await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).status === 200);
    stack.proxy.process.kill('SIGTERM');
    await until(async () => (await get(stack.proxy.metricsPort!, '/readyz')).status === 503, 1500);
    expect((await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0))).code).toBe(0);
    expect(await stack.proxy.stop()).toBe(0);
    await stack.stop();
  });
});
