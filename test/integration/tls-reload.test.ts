// Certificates follow their files: a renewed certificate is served to new connections without
// dropping calls in flight; a broken file is refused and the previous certificate stays in use.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCerts } from '../helpers/certs.js';
import { overrideForTest, type Stack, startStack } from '../helpers/proxy-stack.js';
import { rawClient, rawUnary } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const certs = testCerts();
const dir = mkdtempSync(join(tmpdir(), 'qap-tls-reload-'));
const certFile = join(dir, 'tls.pem');
const keyFile = join(dir, 'tls-key.pem');
let stack: Stack;

/** The serial number of the certificate the proxy presents to a new connection. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(certs.path('ca.pem')), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

beforeAll(async () => {
  copyFileSync(certs.path('server.pem'), certFile);
  copyFileSync(certs.path('server-key.pem'), keyFile);
  stack = await startStack({ service: { enable_tls: true }, tls: { cert: certFile, key: keyFile, cert_ttl: 1 } });
});
afterAll(async () => stack?.stop());

describe('certificate hot reload', () => {
  it('serves a renewed certificate to new connections, without dropping a call in flight', async () => {
    expect(await servedSerial(stack.proxy.port)).toBe(serialOf(certs.path('server.pem')));
    overrideForTest(stack.standin, '/qdrant.Points/Search', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      setTimeout(() => cb(null, Buffer.from('done')), 1500)) as grpc.UntypedHandleCall);
    const client = rawClient(`localhost:${stack.proxy.port}`, grpc.credentials.createSsl(readFileSync(certs.path('ca.pem'))));
    const before = stack.standin.calls.length;
    const inflight = rawUnary(client, '/qdrant.Points/Search', Buffer.alloc(0));
    await until(() => stack.standin.calls.slice(before).some((c) => c.path === '/qdrant.Points/Search'), 10_000, 'the call upstream');

    // "Renew": the upstream certificate is also valid for localhost and signed by the same CA.
    copyFileSync(certs.path('upstream-key.pem'), keyFile);
    copyFileSync(certs.path('upstream.pem'), certFile);
    const renewed = serialOf(certs.path('upstream.pem'));
    await until(async () => (await servedSerial(stack.proxy.port)) === renewed);
    const out = await inflight;
    expect([out.code, String(out.reply)]).toEqual([0, 'done']);
    client.close();
  });

  it('refuses a broken certificate file and keeps serving the previous one', async () => {
    const before = await servedSerial(stack.proxy.port);
    writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await stack.proxy.waitForLine(/new certificate files refused/);
    expect(await servedSerial(stack.proxy.port)).toBe(before);
    // A key that does not match the certificate is refused too.
    const mark = stack.proxy.output.length;
    copyFileSync(certs.path('upstream.pem'), certFile);
    copyFileSync(certs.path('client-key.pem'), keyFile);
    await stack.proxy.waitForLine(/new certificate files refused/, 15_000, mark);
    expect(await servedSerial(stack.proxy.port)).toBe(before);
  });
});
