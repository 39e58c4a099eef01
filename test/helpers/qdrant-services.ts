// The official client's service descriptors. Its package exports only the high-level client, whose
// constructor takes no TLS options, so TLS tests pair these descriptors with a connect transport.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DescService } from '@bufbuild/protobuf';

// The package's `require` entry is dist/cjs/index.js; its ESM twin sits in dist/esm.
const cjsEntry = createRequire(import.meta.url).resolve('@qdrant/js-client-grpc');
const protoDir = join(dirname(cjsEntry), '..', 'esm', 'proto');
const load = async (file: string, name: string) => ((await import(pathToFileURL(join(protoDir, file)).href)) as Record<string, DescService>)[name]!;

export const Qdrant = await load('qdrant_pb.js', 'Qdrant');
export const Collections = await load('collections_service_pb.js', 'Collections');
export const Points = await load('points_service_pb.js', 'Points');
