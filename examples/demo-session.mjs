#!/usr/bin/env node
// A short scripted Qdrant session with the official gRPC client (@qdrant/js-client-grpc).
// Run it against the proxy, or directly against Qdrant or the stand-in upstream:
//
//   node examples/demo-session.mjs [URL]          URL defaults to http://127.0.0.1:6334
//   QDRANT_API_KEY=... node examples/demo-session.mjs http://127.0.0.1:6335
//
// It (re)creates a 4-dimensional cosine collection `demo`, upserts a few points with payload,
// searches, scrolls, counts and lists collections. Exit code 0 on success, 1 on the first error.
import { Distance, QdrantClient, toDenseVector, UpdateStatus } from '@qdrant/js-client-grpc';

const url = process.argv[2] ?? 'http://127.0.0.1:6334';
const apiKey = process.env.QDRANT_API_KEY || undefined;
const COLLECTION = 'demo';

const client = new QdrantClient({ url, checkCompatibility: false, ...(apiKey ? { apiKey } : {}) });
const collections = client.api('collections');
const points = client.api('points');

// ---- helpers: Qdrant's protobuf shapes <-> plain values -------------------------------------------

/** A plain JS value as Qdrant's `Value` message. */
function toValue(v) {
  if (v === null) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof v === 'string') return { kind: { case: 'stringValue', value: v } };
  if (typeof v === 'boolean') return { kind: { case: 'boolValue', value: v } };
  if (Number.isInteger(v)) return { kind: { case: 'integerValue', value: BigInt(v) } };
  if (typeof v === 'number') return { kind: { case: 'doubleValue', value: v } };
  if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(toValue) } } };
  return { kind: { case: 'structValue', value: { fields: toPayload(v) } } };
}

const toPayload = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toValue(v)]));

/** Qdrant's `Value` message as a plain JS value. */
function fromValue(v) {
  const { case: kind, value } = v.kind;
  if (kind === 'nullValue') return null;
  if (kind === 'integerValue') return Number(value);
  if (kind === 'listValue') return value.values.map(fromValue);
  if (kind === 'structValue') return fromPayload(value.fields);
  return value;
}

const fromPayload = (payload) => Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, fromValue(v)]));

const numId = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const showId = (id) => String(id.pointIdOptions.value);
const denseVectors = (data) => ({ vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data } } } } });
const keywordMatch = (key, keyword) => ({
  must: [{ conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'keyword', value: keyword } } } } }],
});
const withPayload = { selectorOptions: { case: 'enable', value: true } };

function showPoint(p) {
  const score = p.score !== undefined ? ` score=${p.score.toFixed(4)}` : '';
  const vector = p.vectors?.vectorsOptions.case === 'vector' ? toDenseVector(p.vectors.vectorsOptions.value)?.data : undefined;
  const shownVector = vector ? ` vector=[${vector.map((x) => x.toFixed(3)).join(', ')}]` : '';
  return `  id=${showId(p.id)}${score} payload=${JSON.stringify(fromPayload(p.payload))}${shownVector}`;
}

function step(title) {
  console.log(`\n== ${title}`);
}

// ---- the session ----------------------------------------------------------------------------------

const POINTS = [
  { id: 1, vector: [0.05, 0.61, 0.76, 0.74], payload: { city: 'Berlin', population: 3_600_000, tags: ['capital', 'river'] } },
  { id: 2, vector: [0.19, 0.81, 0.75, 0.11], payload: { city: 'London', population: 8_900_000, tags: ['capital'] } },
  { id: 3, vector: [0.36, 0.55, 0.47, 0.94], payload: { city: 'Moscow', population: 12_600_000 } },
  { id: 4, vector: [0.18, 0.01, 0.85, 0.8], payload: { city: 'New York', population: 8_300_000, tags: ['harbour'] } },
  { id: 5, vector: [0.24, 0.18, 0.22, 0.44], payload: { city: 'Beijing', population: 21_500_000 } },
  { id: 6, vector: [0.35, 0.08, 0.11, 0.44], payload: { city: 'London', population: 8_900_000, note: 'second London' } },
];

async function session() {
  console.log(`Qdrant demo session against ${url}${apiKey ? ' (with API key)' : ''}`);

  step(`Remove collection "${COLLECTION}" if it exists`);
  const exists = await collections.collectionExists({ collectionName: COLLECTION });
  if (exists.result?.exists) {
    const deleted = await collections.delete({ collectionName: COLLECTION });
    console.log(`  deleted: ${deleted.result}`);
  } else {
    console.log('  not there');
  }

  step(`Create collection "${COLLECTION}" (4 dimensions, cosine)`);
  const created = await collections.create({
    collectionName: COLLECTION,
    vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: Distance.Cosine } } },
  });
  console.log(`  created: ${created.result} (${(created.time * 1000).toFixed(2)} ms)`);

  step(`Upsert ${POINTS.length} points`);
  const upserted = await points.upsert({
    collectionName: COLLECTION,
    wait: true,
    points: POINTS.map((p) => ({ id: numId(p.id), vectors: denseVectors(p.vector), payload: toPayload(p.payload) })),
  });
  console.log(`  operation ${upserted.result?.operationId}: ${UpdateStatus[upserted.result?.status ?? 0]}`);

  const query = [0.2, 0.1, 0.9, 0.7];
  step(`Search the 3 nearest points to [${query.join(', ')}]`);
  const found = await points.search({ collectionName: COLLECTION, vector: query, limit: 3n, withPayload });
  for (const p of found.result) console.log(showPoint(p));

  step('Search again, only points with city = "London"');
  const london = await points.search({ collectionName: COLLECTION, vector: query, limit: 3n, withPayload, filter: keywordMatch('city', 'London') });
  for (const p of london.result) console.log(showPoint(p));

  step('Scroll through the collection, 4 points per page, with vectors');
  let offset;
  let page = 0;
  do {
    const res = await points.scroll({
      collectionName: COLLECTION,
      limit: 4,
      withPayload,
      withVectors: { selectorOptions: { case: 'enable', value: true } },
      ...(offset ? { offset } : {}),
    });
    console.log(` page ${++page}:`);
    for (const p of res.result) console.log(showPoint(p));
    offset = res.nextPageOffset;
  } while (offset);

  step('Count points');
  const all = await points.count({ collectionName: COLLECTION, exact: true });
  const capitals = await points.count({ collectionName: COLLECTION, exact: true, filter: keywordMatch('tags', 'capital') });
  console.log(`  all: ${all.result?.count}, tagged "capital": ${capitals.result?.count}`);

  step('List collections');
  const listed = await collections.list({});
  console.log(`  ${listed.collections.map((c) => c.name).join(', ') || '(none)'}`);

  console.log('\nDone.');
}

session().then(
  () => process.exit(0),
  (err) => {
    const code = err?.code !== undefined ? ` [gRPC code ${err.code}]` : '';
    console.error(`\nDemo failed${code}: ${err?.rawMessage ?? err?.message ?? err}`);
    process.exit(1);
  },
);
