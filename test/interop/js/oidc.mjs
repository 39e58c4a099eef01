#!/usr/bin/env node
// The official JS gRPC client through a proxy that takes ory/hydra's tokens (test/interop/hydra.sh):
// each token was issued by hydra for the client-credentials grant, with the scopes the step names;
// the proxy maps scp qdrant:admin to manage and qdrant:read to read. Prints PASS/FAIL lines.
import { Code } from '@connectrpc/connect';
import { QdrantClient } from '@qdrant/js-client-grpc';
import { env, expectCode, step } from './steps.mjs';

const url = `https://${env('INTEROP_HOST')}:${env('INTEROP_PORT')}`;
// A JWT goes in the api-key metadata, as Qdrant itself accepts it.
const client = (token) => new QdrantClient({ url, apiKey: token, checkCompatibility: false });
const COLLECTION = 'oidc_interop';

const create = (c) =>
  c.api('collections').create({ collectionName: COLLECTION, vectorsConfig: { config: { case: 'params', value: { size: 2n, distance: 1 } } } });
const names = async (c) => (await c.api('collections').list({})).collections.map((x) => x.name);

await step('token-admin', async () => {
  const admin = client(env('OIDC_ADMIN_TOKEN'));
  await create(admin);
  const listed = await names(admin);
  if (!listed.includes(COLLECTION)) throw new Error(`created ${COLLECTION}, but the list is ${listed}`);
  return `scp qdrant:admin → manage: created ${COLLECTION}, listed it`;
});

await step('token-read', async () => {
  const reader = client(env('OIDC_READ_TOKEN'));
  const listed = await names(reader);
  if (!listed.includes(COLLECTION)) throw new Error(`expected ${COLLECTION} in ${listed}`);
  const denied = await expectCode(Code.PermissionDenied, 'delete with a read token', () => reader.api('collections').delete({ collectionName: COLLECTION }));
  return `scp qdrant:read → read: listed; delete ${denied}`;
});

await step('token-none', async () => {
  const nobody = client(env('OIDC_NONE_TOKEN'));
  const denied = await expectCode(Code.PermissionDenied, 'list with a token of no mapped scope', () => names(nobody));
  const tampered = env('OIDC_READ_TOKEN').replace(/\.[^.]+$/, (sig) => `.${sig[1] === 'A' ? 'B' : 'A'}${sig.slice(2)}`);
  const bad = await expectCode(Code.PermissionDenied, 'a token with a changed signature', () => names(client(tampered)));
  return `scp profile → ${denied}; changed signature → ${bad}`;
});
