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

// grpc.health.v1 as the proxy serves it (Check and Watch), described here for server reflection;
// the standard messages, field numbers and enum values of the gRPC health checking protocol.
const { FileDescriptorProtoSchema, FieldDescriptorProto_Type: Type, FieldDescriptorProto_Label: Label } = await import('@bufbuild/protobuf/wkt');
const health = create(FileDescriptorProtoSchema, {
  name: 'grpc/health/v1/health.proto',
  package: 'grpc.health.v1',
  syntax: 'proto3',
  messageType: [
    { name: 'HealthCheckRequest', field: [{ name: 'service', jsonName: 'service', number: 1, label: Label.OPTIONAL, type: Type.STRING }] },
    {
      name: 'HealthCheckResponse',
      field: [
        {
          name: 'status',
          jsonName: 'status',
          number: 1,
          label: Label.OPTIONAL,
          type: Type.ENUM,
          typeName: '.grpc.health.v1.HealthCheckResponse.ServingStatus',
        },
      ],
      enumType: [{ name: 'ServingStatus', value: ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'].map((name, number) => ({ name, number })) }],
    },
  ],
  service: [
    {
      name: 'Health',
      method: [
        { name: 'Check', inputType: '.grpc.health.v1.HealthCheckRequest', outputType: '.grpc.health.v1.HealthCheckResponse' },
        { name: 'Watch', inputType: '.grpc.health.v1.HealthCheckRequest', outputType: '.grpc.health.v1.HealthCheckResponse', serverStreaming: true },
      ],
    },
  ],
});
const healthOut = join(here, 'grpc-health.binpb');
await writeFile(healthOut, toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [health] })));
console.log(`proto: wrote grpc/health/v1/health.proto to ${healthOut}`);
