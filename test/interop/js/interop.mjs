#!/usr/bin/env node
// Interop scenario for the official JS gRPC client (@qdrant/js-client-grpc, the repository's pinned
// devDependency) through the proxy over TLS. Driven by test/interop/run.sh; the contract (INTEROP_*
// environment, PASS/FAIL lines) is described there. The proxy's CA comes in via NODE_EXTRA_CA_CERTS.
import { Code } from '@connectrpc/connect';
import { QdrantClient } from '@qdrant/js-client-grpc';
import { env, expectCode, step } from './steps.mjs';

const coll = env('INTEROP_COLLECTION');
const other = env('INTEROP_OTHER_COLLECTION');
const timeoutMs = Number(env('INTEROP_TIMEOUT_MS'));
const maxElapsedMs = Number(env('INTEROP_MAX_ELAPSED_MS'));

// README: connecting
const url = `https://${env('INTEROP_HOST')}:${env('INTEROP_PORT')}`;
const client = (apiKey) => new QdrantClient({ url, apiKey, checkCompatibility: false });
// README: end
const admin = client(env('INTEROP_API_KEY'));
const reader = client(env('INTEROP_READ_ONLY_KEY'));
const scoped = client(env('INTEROP_JWT'));

const numId = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const dense = (data) => ({ vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data } } } } });
const POINTS = [
  { id: numId(1), vectors: dense([0.05, 0.61, 0.76, 0.74]), payload: { city: { kind: { case: 'stringValue', value: 'Berlin' } } } },
  { id: numId(2), vectors: dense([0.19, 0.81, 0.75, 0.11]), payload: { city: { kind: { case: 'stringValue', value: 'London' } } } },
  { id: numId(3), vectors: dense([0.36, 0.55, 0.47, 0.94]), payload: { city: { kind: { case: 'stringValue', value: 'Moscow' } } } },
];
const QUERY = [0.2, 0.1, 0.9, 0.7];

function check(cond, what) {
  if (!cond) throw new Error(what);
}

const listNames = async (c) => (await c.api('collections').list({})).collections.map((x) => x.name).sort();
const search = (c, name) => c.api('points').search({ collectionName: name, vector: QUERY, limit: 2n });
const vectorsConfig = { config: { case: 'params', value: { size: 4n, distance: 1 /* Cosine */ } } };

await step('full-key', async () => {
  const cols = admin.api('collections');
  const pts = admin.api('points');
  for (const name of [coll, other]) {
    if ((await cols.collectionExists({ collectionName: name })).result?.exists) await cols.delete({ collectionName: name });
    check((await cols.create({ collectionName: name, vectorsConfig })).result === true, `create ${name}: result not true`);
  }
  await pts.upsert({ collectionName: coll, wait: true, points: POINTS });
  const found = (await search(admin, coll)).result;
  check(found.length === 2, `search: ${found.length} hits, expected 2`);
  const scrolled = (await pts.scroll({ collectionName: coll, limit: 10, withPayload: { selectorOptions: { case: 'enable', value: true } } })).result;
  check(scrolled.length === 3, `scroll: ${scrolled.length} points, expected 3`);
  const count = (await pts.count({ collectionName: coll, exact: true })).result?.count;
  check(count === 3n, `count: ${count}, expected 3`);
  const names = await listNames(admin);
  check(names.includes(coll) && names.includes(other), `list: [${names}] lacks ${coll} or ${other}`);
  return `created ${coll} and ${other}, upserted 3, search 2 hits, scroll 3, count 3, list has ${names.length}`;
});

await step('read-only-key', async () => {
  const found = (await search(reader, coll)).result;
  check(found.length === 2, `search: ${found.length} hits, expected 2`);
  const denied = await expectCode(Code.PermissionDenied, 'upsert', () =>
    reader.api('points').upsert({ collectionName: coll, wait: true, points: POINTS.slice(0, 1) }),
  );
  return `search 2 hits; upsert refused: ${denied}`;
});

await step('collection-jwt', async () => {
  const names = await listNames(scoped);
  check(names.length === 1 && names[0] === coll, `list: [${names}], expected only ${coll}`);
  const count = (await scoped.api('points').count({ collectionName: coll, exact: true })).result?.count;
  check(count === 3n, `count ${coll}: ${count}, expected 3`);
  const denied = await expectCode(Code.PermissionDenied, `search ${other}`, () => search(scoped, other));
  return `list = [${names}]; count ${coll} = 3; search ${other} refused: ${denied}`;
});

await step('deadline', async () => {
  const started = performance.now();
  const err = await expectCode(Code.DeadlineExceeded, `collection info with ${timeoutMs} ms timeout`, () =>
    admin.api('collections').get({ collectionName: coll }, { timeoutMs }),
  );
  const elapsed = Math.round(performance.now() - started);
  check(elapsed < maxElapsedMs, `took ${elapsed} ms, expected under ${maxElapsedMs} ms`);
  const count = (await admin.api('points').count({ collectionName: coll, exact: true })).result?.count;
  check(count === 3n, `count after the deadline: ${count}, expected 3`);
  return `${err} after ${elapsed} ms; the next call works`;
});
