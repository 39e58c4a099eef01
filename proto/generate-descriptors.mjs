// Build step: writes Qdrant's protobuf API as a FileDescriptorSet (proto/qdrant-api.binpb).
// The descriptors come from the pinned npm package @qdrant/js-client-grpc, which embeds the
// serialized descriptor of every .proto file it was generated from; no .proto text is kept here.
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const here = dirname(fileURLToPath(import.meta.url));
const clientEntry = fileURLToPath(import.meta.resolve('@qdrant/js-client-grpc'));
const protoDir = join(dirname(clientEntry), 'proto');

const files = new Map();
function collect(desc) {
  if (files.has(desc.name)) return;
  for (const dep of desc.dependencies) collect(dep);
  files.set(desc.name, desc.proto);
}
for (const name of (await readdir(protoDir)).filter((f) => f.endsWith('_pb.js')).sort()) {
  const mod = await import(pathToFileURL(join(protoDir, name)).href);
  for (const [exported, value] of Object.entries(mod)) {
    // Start from the files that define services: the package also ships a stale common_pb.js
    // that no service imports and that redefines qdrant.PointId.
    if (exported.startsWith('file_') && value?.kind === 'file' && value.services.length > 0) collect(value);
  }
}
const set = create(FileDescriptorSetSchema, { file: [...files.values()] });
const out = join(here, 'qdrant-api.binpb');
await writeFile(out, toBinary(FileDescriptorSetSchema, set));
console.log(`proto: wrote ${[...files.keys()].length} files (${[...files.keys()].join(', ')}) to ${out}`);
