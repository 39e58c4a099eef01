// Qdrant 1.19's "Table of Access" for its public gRPC port, one row per method, as data.
// Facts from Qdrant 1.19.0's gRPC handlers (src/tonic/api/*.rs) and access checks
// (lib/storage/src/rbac/ops_checks.rs, lib/storage/src/rbac/mod.rs); see README "Access model".
//
// need:
//   none        served without credentials (health checks)
//   list        any valid identity; collection-scoped tokens get a filtered reply (see `filter`)
//   global      global access: read (manage: false) or manage
//   collection  access to `collection`: write / manage / extras ("extras" = snapshots, payload
//               indexes, vector names, cluster info; denied to `prw` tokens)
// lookups: other collections a request reads from, as field-name paths; every match must be in a
//   collection-scoped token's list. `name*` is a field of the message's own type, followed zero or more
//   times (nested prefetches).
// A method that is not in this table is denied to everyone.

import type { MethodKind } from '../api/qdrant-api.js';

export type CollectionNeed = { readonly scope: 'collection'; readonly write: boolean; readonly manage: boolean; readonly extras: boolean };
export type Need = { readonly scope: 'none' } | { readonly scope: 'list' } | { readonly scope: 'global'; readonly manage: boolean } | CollectionNeed;

export type ListFilter = 'collections' | 'aliases' | 'collection_aliases';

interface RuleBase {
  readonly path: string;
  readonly kind: MethodKind;
  /** Qdrant's audit `method` name for this RPC. */
  readonly audit: string | null;
}

/** A row; its type says which fields each kind of need has (a collection rule names its field). */
export type AccessRule =
  | (RuleBase & { readonly need: { readonly scope: 'none' } | { readonly scope: 'global'; readonly manage: boolean } })
  | (RuleBase & { readonly need: { readonly scope: 'list' }; readonly filter: ListFilter })
  | (RuleBase & {
      readonly need: CollectionNeed;
      /** The request field naming the collection (field name and number in the request message). */
      readonly collection: { readonly field: string; readonly number: number };
      readonly lookups?: readonly string[];
      readonly filter?: ListFilter;
    });

export const ACCESS_TABLE: readonly AccessRule[] = [
  { path: '/qdrant.Collections/Get', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'get_collection' },
  { path: '/qdrant.Collections/List', kind: 'unary', need: { scope: 'list' }, filter: 'collections', audit: 'list_collections' },
  { path: '/qdrant.Collections/Create', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'create_collection' },
  { path: '/qdrant.Collections/Update', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'update_collection' },
  { path: '/qdrant.Collections/Delete', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'delete_collection' },
  { path: '/qdrant.Collections/UpdateAliases', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'change_aliases' },
  { path: '/qdrant.Collections/ListCollectionAliases', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, filter: 'collection_aliases', audit: 'list_collection_aliases' },
  { path: '/qdrant.Collections/ListAliases', kind: 'unary', need: { scope: 'list' }, filter: 'aliases', audit: 'list_aliases' },
  { path: '/qdrant.Collections/CollectionClusterInfo', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: true }, audit: 'get_collection_cluster' },
  { path: '/qdrant.Collections/CollectionExists', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'collection_exists' },
  { path: '/qdrant.Collections/UpdateCollectionClusterSetup', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: true, extras: true }, audit: 'update_collection_cluster' },
  { path: '/qdrant.Collections/CreateShardKey', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: true, extras: true }, audit: 'update_collection_cluster' },
  { path: '/qdrant.Collections/DeleteShardKey', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: true, extras: true }, audit: 'update_collection_cluster' },
  { path: '/qdrant.Collections/ListShardKeys', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'get_collection_shard_keys' },
  { path: '/qdrant.Points/Upsert', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'upsert_points' },
  { path: '/qdrant.Points/Delete', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'delete_points' },
  { path: '/qdrant.Points/UpdateVectors', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'update_vectors' },
  { path: '/qdrant.Points/DeleteVectors', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'delete_vectors' },
  { path: '/qdrant.Points/SetPayload', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'set_payload' },
  { path: '/qdrant.Points/OverwritePayload', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'overwrite_payload' },
  { path: '/qdrant.Points/DeletePayload', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'delete_payload' },
  { path: '/qdrant.Points/ClearPayload', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'clear_payload' },
  { path: '/qdrant.Points/Get', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'retrieve' },
  { path: '/qdrant.Points/CreateFieldIndex', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'create_payload_index' },
  { path: '/qdrant.Points/DeleteFieldIndex', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'drop_payload_index' },
  { path: '/qdrant.Points/CreateVectorName', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'create_named_vector' },
  { path: '/qdrant.Points/DeleteVectorName', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'delete_named_vector' },
  { path: '/qdrant.Points/Search', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'core_search_batch' },
  { path: '/qdrant.Points/SearchBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'core_search_batch' },
  { path: '/qdrant.Points/SearchGroups', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['with_lookup.collection'], audit: 'group' },
  { path: '/qdrant.Points/Scroll', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'scroll' },
  { path: '/qdrant.Points/Recommend', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['lookup_from.collection_name'], audit: 'recommend' },
  { path: '/qdrant.Points/RecommendBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['recommend_points.lookup_from.collection_name'], audit: 'recommend_batch' },
  { path: '/qdrant.Points/RecommendGroups', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['lookup_from.collection_name', 'with_lookup.collection'], audit: 'group' },
  { path: '/qdrant.Points/Discover', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['lookup_from.collection_name'], audit: 'discover' },
  { path: '/qdrant.Points/DiscoverBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['discover_points.lookup_from.collection_name'], audit: 'discover_batch' },
  { path: '/qdrant.Points/Count', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'count' },
  { path: '/qdrant.Points/UpdateBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: false }, audit: 'one' },
  { path: '/qdrant.Points/Query', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['lookup_from.collection_name', 'prefetch.prefetch*.lookup_from.collection_name'], audit: 'query_batch' },
  { path: '/qdrant.Points/QueryBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['query_points.lookup_from.collection_name', 'query_points.prefetch.prefetch*.lookup_from.collection_name'], audit: 'query_batch' },
  { path: '/qdrant.Points/QueryGroups', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, lookups: ['lookup_from.collection_name', 'prefetch.prefetch*.lookup_from.collection_name', 'with_lookup.collection'], audit: 'group' },
  { path: '/qdrant.Points/Facet', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'facet' },
  { path: '/qdrant.Points/SearchMatrixPairs', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'search_points_matrix' },
  { path: '/qdrant.Points/SearchMatrixOffsets', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'search_points_matrix' },
  { path: '/qdrant.Snapshots/Create', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'create_snapshot' },
  { path: '/qdrant.Snapshots/List', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: true }, audit: 'list_snapshots' },
  { path: '/qdrant.Snapshots/Delete', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: true, manage: false, extras: true }, audit: 'delete_collection_snapshot' },
  { path: '/qdrant.Snapshots/CreateFull', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'create_full_snapshot' },
  { path: '/qdrant.Snapshots/ListFull', kind: 'unary', need: { scope: 'global', manage: false }, audit: 'list_full_snapshots' },
  { path: '/qdrant.Snapshots/DeleteFull', kind: 'unary', need: { scope: 'global', manage: true }, audit: 'delete_full_snapshot' },
  { path: '/qdrant.Qdrant/HealthCheck', kind: 'unary', need: { scope: 'none' }, audit: null },
  { path: '/grpc.health.v1.Health/Check', kind: 'unary', need: { scope: 'none' }, audit: null },
  { path: '/qdrant.StorageRead/ListFiles', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'list_files' },
  { path: '/qdrant.StorageRead/FileExists', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'file_exists' },
  { path: '/qdrant.StorageRead/FileLength', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'file_length' },
  { path: '/qdrant.StorageRead/ReadBytes', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'read_bytes' },
  { path: '/qdrant.StorageRead/ReadBytesStream', kind: 'server_stream', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'read_bytes_stream' },
  { path: '/qdrant.StorageRead/ReadWhole', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'read_whole' },
  { path: '/qdrant.StorageRead/ReadBatch', kind: 'unary', collection: { field: 'collection_name', number: 1 }, need: { scope: 'collection', write: false, manage: false, extras: false }, audit: 'read_batch' },
];
