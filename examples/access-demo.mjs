#!/usr/bin/env node
// What the proxy's access control looks like to a client: tokens minted with
// `qdrant-auth-proxy token`, used by the official client (a JWT may go in the api-key header).
//
//   QDRANT__SERVICE__API_KEY=<the proxy's key> node examples/access-demo.mjs https://HOST:PORT
import { execFileSync } from 'node:child_process';
import { QdrantClient } from '@qdrant/js-client-grpc';

const url = process.argv[2] ?? 'http://127.0.0.1:6334';
const bin = new URL('../dist/cli/main.js', import.meta.url).pathname;
const token = (...args) => execFileSync(process.execPath, [bin, 'token', ...args], { encoding: 'utf8' }).trim();
const client = (apiKey) => new QdrantClient({ url, checkCompatibility: false, ...(apiKey ? { apiKey } : {}) });
const admin = client(process.env.QDRANT__SERVICE__API_KEY);

async function attempt(label, fn) {
  try {
    const result = await fn();
    console.log(`  ok      ${label}${result === undefined ? '' : `: ${result}`}`);
  } catch (err) {
    console.log(`  refused ${label}: [${err.code}] ${err.rawMessage ?? err.message}`);
  }
}
const names = async (c) => (await c.api('collections').list({})).collections.map((x) => x.name).join(', ');

const exists = await admin.api('collections').collectionExists({ collectionName: 'private' });
if (!exists.result?.exists) {
  await admin.api('collections').create({ collectionName: 'private', vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } } });
}

console.log('no credentials:');
await attempt('list collections', () => names(client()));

const readToken = token('--access', 'r', '--exp', '300', '--subject', 'demo-reader');
console.log('global read token (token --access r):');
await attempt('list collections', () => names(client(readToken)));
await attempt('create collection "scratch"', () =>
  client(readToken)
    .api('collections')
    .create({ collectionName: 'scratch', vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } } }),
);

const demoToken = token('--access', '[{"collection":"demo","access":"r"}]', '--exp', '300');
console.log('token for collection "demo" only (token --access \'[{"collection":"demo","access":"r"}]\'):');
await attempt('list collections (filtered)', () => names(client(demoToken)));
await attempt('count points in "demo"', async () => (await client(demoToken).api('points').count({ collectionName: 'demo', exact: true })).result?.count);
await attempt('count points in "private"', async () => (await client(demoToken).api('points').count({ collectionName: 'private', exact: true })).result?.count);
