// grpc-js, loaded when first needed: only the grpc-js upstream transport uses it, and loading it
// costs the process ~3 MB of heap it would otherwise hold for nothing (BENCHMARKS.md, issue 18).
import { createRequire } from 'node:module';

type GrpcJs = typeof import('@grpc/grpc-js');
let loaded: GrpcJs | null = null;

export function grpcJs(): GrpcJs {
  loaded ??= createRequire(import.meta.url)('@grpc/grpc-js') as GrpcJs;
  return loaded;
}
