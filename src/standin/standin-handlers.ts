// Stand-in upstream (NOT Qdrant): handlers for health checks and `qdrant.Collections`, and the table
// of every method the stand-in answers itself. Methods missing from the table get a well-formed empty
// reply (see standin-server.ts).

import { GROUPING_HANDLERS } from './standin-grouping-handlers.js';
import { type Handler, handler } from './standin-handler-types.js';
import { invalid, type VectorsConfigMsg } from './standin-messages.js';
import { POINTS_HANDLERS } from './standin-points-handlers.js';
import { parseVectorsConfig } from './standin-requests.js';
import type { AliasAction, StandinCollection } from './standin-store.js';

export const STANDIN_VERSION = '1.19.0';

interface NameRequest {
  collection_name?: string;
}

const healthCheck = handler<object>(() => ({ title: 'qdrant - vector search engine (stand-in)', version: STANDIN_VERSION }));

const create = handler<NameRequest & { vectors_config?: VectorsConfigMsg }>((req, store) => {
  store.createCollection(req.collection_name ?? '', parseVectorsConfig(req.vectors_config), req.vectors_config);
  return { result: true };
});

const get = handler<NameRequest>((req, store) => ({ result: collectionInfo(store.collection(req.collection_name ?? '')) }));

/** `CollectionInfo` with fixed, Qdrant-like defaults around the real vectors config and point count. */
function collectionInfo(c: StandinCollection): object {
  return {
    status: 'Green',
    optimizer_status: { ok: true },
    segments_count: '1',
    config: {
      params: {
        shard_number: 1,
        on_disk_payload: true,
        ...(c.vectorsConfig ? { vectors_config: c.vectorsConfig } : {}),
        replication_factor: 1,
        write_consistency_factor: 1,
      },
      hnsw_config: { m: '16', ef_construct: '100', full_scan_threshold: '10000', max_indexing_threads: '0', on_disk: false },
      optimizer_config: { deleted_threshold: 0.2, vacuum_min_vector_number: '1000', default_segment_number: '0', flush_interval_sec: '5' },
      wal_config: { wal_capacity_mb: '32', wal_segments_ahead: '0' },
    },
    payload_schema: [],
    points_count: String(c.points.size),
    indexed_vectors_count: '0',
  };
}

const list = handler<object>((_req, store) => ({ collections: store.names().map((name) => ({ name })) }));

const remove = handler<NameRequest>((req, store) => ({ result: store.deleteCollection(req.collection_name ?? '') }));

const update = handler<NameRequest>((req, store) => {
  store.collection(req.collection_name ?? '');
  return { result: true };
});

const exists = handler<NameRequest>((req, store) => ({ result: { exists: store.exists(req.collection_name ?? '') } }));

interface AliasOperationMsg {
  create_alias?: { collection_name?: string; alias_name?: string };
  rename_alias?: { old_alias_name?: string; new_alias_name?: string };
  delete_alias?: { alias_name?: string };
}

function aliasAction(op: AliasOperationMsg): AliasAction {
  if (op.create_alias) return { create: { collection: op.create_alias.collection_name ?? '', alias: op.create_alias.alias_name ?? '' } };
  if (op.rename_alias) return { rename: { from: op.rename_alias.old_alias_name ?? '', to: op.rename_alias.new_alias_name ?? '' } };
  if (op.delete_alias) return { delete: op.delete_alias.alias_name ?? '' };
  throw invalid('Wrong input: empty alias operation');
}

const updateAliases = handler<{ actions?: AliasOperationMsg[] }>((req, store) => {
  store.changeAliases((req.actions ?? []).map(aliasAction));
  return { result: true };
});

const listAliases = handler<object>((_req, store) => ({ aliases: store.aliasList() }));

const listCollectionAliases = handler<NameRequest>((req, store) => ({
  aliases: store.aliasList(store.collection(req.collection_name ?? '').name),
}));

/** Handlers by method path; every other method gets an empty reply. */
export const STANDIN_HANDLERS: ReadonlyMap<string, Handler> = new Map(
  Object.entries({
    '/qdrant.Qdrant/HealthCheck': healthCheck,
    '/qdrant.Collections/Create': create,
    '/qdrant.Collections/Get': get,
    '/qdrant.Collections/List': list,
    '/qdrant.Collections/Delete': remove,
    '/qdrant.Collections/Update': update,
    '/qdrant.Collections/CollectionExists': exists,
    '/qdrant.Collections/UpdateAliases': updateAliases,
    '/qdrant.Collections/ListAliases': listAliases,
    '/qdrant.Collections/ListCollectionAliases': listCollectionAliases,
    ...POINTS_HANDLERS,
    ...GROUPING_HANDLERS,
  }),
);

/** Raw replies for methods without descriptors: `grpc.health.v1.HealthCheckResponse{status: SERVING}`. */
export const RAW_REPLIES: ReadonlyMap<string, Buffer> = new Map([['/grpc.health.v1.Health/Check', Buffer.from([0x08, 0x01])]]);
