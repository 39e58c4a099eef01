// Tenant isolation (auth.tenant_isolation; README "Tenant isolation"): what every method of the
// access table does for a grant confined to a tenant's points, as data beside the access table.
// Each treatment was decided by reading what Qdrant 1.19.0 does with the request
// (lib/api/src/grpc/proto/*.proto, lib/collection/src/operations/*, src/tonic/api/points_api.rs);
// a method not listed here is refused for a tenant-bound grant.
//
//   filter    the tenant's conditions are merged into every filter the request has at these paths
//             (the last field of the path created where absent; `params.idf.corpus`, the points
//             sparse-vector IDF statistics are computed over, is confined when the request sets
//             `params.idf`: Qdrant refuses `idf` on any other search). A Filter's `must` is an AND: a client's `should`, `must_not` or
//             `min_should` cannot undo it. The request is refused when it names a point by id
//             anywhere outside a filter (recommend/discover/query examples resolve a point's vector
//             with no filter at all), except at `ids` (a scroll's offset: a starting place, the
//             filter still applies), and when it has a field listed in `refuse`. `forceTrue`:
//             boolean fields set to true (Count's `exact`: an estimate is computed from
//             collection-wide index statistics, lib/segment/src/index/query_estimator.rs).
//   filter_write  the same merge into a write's filter; `ownedIds`: ids that must all be the
//             tenant's points (looked up first); any other is NOT_FOUND, as Qdrant answers an id
//             no point has, so the answer does not tell another tenant's id from a free one.
//   selector  a write whose points are chosen by a PointsSelector: a filter gets the tenant's
//             conditions merged in; a list of ids becomes a filter, has_id AND the tenant's
//             conditions (points of other tenants with those ids are left alone). `payload`: how the
//             write may touch the tenant's own keys (none: it may not touch them; full: it replaces
//             the payload, which must carry the tenant's values).
//   upsert    every point must carry the tenant's values, each a single scalar; the tenant's
//             conditions become the request's update_filter (an existing point of another tenant
//             with the same id is left alone; new points are inserted).
//   get       the ids are first looked up (a Scroll: has_id AND the tenant's conditions) and the
//             request keeps only the tenant's.
//   allow     the method tells nothing about points (names of collections and aliases).
//   refuse    cannot be confined: collection-level information (point counts, shard keys, cluster
//             state), snapshots and storage reads (whole collections), indexes and schema, and
//             batches of mixed operations.

export type TenantTreatment =
  | {
      readonly kind: 'filter';
      readonly filters: readonly string[];
      readonly ids?: readonly string[];
      readonly refuse?: readonly string[];
      readonly forceTrue?: readonly string[];
    }
  | { readonly kind: 'selector'; readonly selector: string; readonly payload?: 'keys' | 'set' | 'full' | 'none' }
  | { readonly kind: 'upsert' }
  | { readonly kind: 'filter_write'; readonly filters: readonly string[]; readonly ownedIds?: string }
  | { readonly kind: 'get' }
  | { readonly kind: 'allow' }
  | { readonly kind: 'refuse'; readonly why: string };

const QUERY_FILTERS = ['filter', 'params.idf.corpus', 'prefetch.prefetch*.filter', 'prefetch.prefetch*.params.idf.corpus'];
const SEARCH_FILTERS = ['filter', 'params.idf.corpus'];

export const TENANT_TABLE: Readonly<Record<string, TenantTreatment>> = {
  '/qdrant.Collections/Get': { kind: 'refuse', why: 'collection info counts every tenant’s points' },
  '/qdrant.Collections/List': { kind: 'allow' },
  '/qdrant.Collections/ListCollectionAliases': { kind: 'allow' },
  '/qdrant.Collections/ListAliases': { kind: 'allow' },
  '/qdrant.Collections/CollectionClusterInfo': { kind: 'refuse', why: 'cluster info counts every tenant’s points' },
  '/qdrant.Collections/CollectionExists': { kind: 'allow' },
  '/qdrant.Collections/UpdateCollectionClusterSetup': { kind: 'refuse', why: 'a collection-level operation' },
  '/qdrant.Collections/CreateShardKey': { kind: 'refuse', why: 'a collection-level operation' },
  '/qdrant.Collections/DeleteShardKey': { kind: 'refuse', why: 'a collection-level operation' },
  '/qdrant.Collections/ListShardKeys': { kind: 'refuse', why: 'shard keys may name other tenants' },
  '/qdrant.Points/Upsert': { kind: 'upsert' },
  '/qdrant.Points/Delete': { kind: 'selector', selector: 'points' },
  '/qdrant.Points/UpdateVectors': { kind: 'filter_write', filters: ['update_filter'], ownedIds: 'points.id' },
  '/qdrant.Points/DeleteVectors': { kind: 'selector', selector: 'points_selector' },
  '/qdrant.Points/SetPayload': { kind: 'selector', selector: 'points_selector', payload: 'set' },
  '/qdrant.Points/OverwritePayload': { kind: 'selector', selector: 'points_selector', payload: 'full' },
  '/qdrant.Points/DeletePayload': { kind: 'selector', selector: 'points_selector', payload: 'keys' },
  '/qdrant.Points/ClearPayload': { kind: 'refuse', why: 'clearing the payload would remove the tenant’s own keys' },
  '/qdrant.Points/Get': { kind: 'get' },
  '/qdrant.Points/CreateFieldIndex': { kind: 'refuse', why: 'indexes are collection-wide' },
  '/qdrant.Points/DeleteFieldIndex': { kind: 'refuse', why: 'indexes are collection-wide' },
  '/qdrant.Points/CreateVectorName': { kind: 'refuse', why: 'vector names are collection-wide' },
  '/qdrant.Points/DeleteVectorName': { kind: 'refuse', why: 'vector names are collection-wide' },
  '/qdrant.Points/Search': { kind: 'filter', filters: SEARCH_FILTERS },
  '/qdrant.Points/SearchBatch': { kind: 'filter', filters: ['search_points.filter', 'search_points.params.idf.corpus'] },
  '/qdrant.Points/SearchGroups': { kind: 'filter', filters: SEARCH_FILTERS, refuse: ['with_lookup'] },
  '/qdrant.Points/Scroll': { kind: 'filter', filters: ['filter'], ids: ['offset'] },
  '/qdrant.Points/Recommend': { kind: 'filter', filters: SEARCH_FILTERS },
  '/qdrant.Points/RecommendBatch': { kind: 'filter', filters: ['recommend_points.filter', 'recommend_points.params.idf.corpus'] },
  '/qdrant.Points/RecommendGroups': { kind: 'filter', filters: SEARCH_FILTERS, refuse: ['with_lookup'] },
  '/qdrant.Points/Discover': { kind: 'filter', filters: SEARCH_FILTERS },
  '/qdrant.Points/DiscoverBatch': { kind: 'filter', filters: ['discover_points.filter', 'discover_points.params.idf.corpus'] },
  '/qdrant.Points/Count': { kind: 'filter', filters: ['filter'], forceTrue: ['exact'] },
  '/qdrant.Points/UpdateBatch': { kind: 'refuse', why: 'a batch of mixed operations: send them one by one' },
  '/qdrant.Points/Query': { kind: 'filter', filters: QUERY_FILTERS },
  '/qdrant.Points/QueryBatch': {
    kind: 'filter',
    filters: [
      'query_points.filter',
      'query_points.params.idf.corpus',
      'query_points.prefetch.prefetch*.filter',
      'query_points.prefetch.prefetch*.params.idf.corpus',
    ],
  },
  '/qdrant.Points/QueryGroups': { kind: 'filter', filters: QUERY_FILTERS, refuse: ['with_lookup'] },
  '/qdrant.Points/Facet': { kind: 'filter', filters: ['filter'] },
  '/qdrant.Points/SearchMatrixPairs': { kind: 'filter', filters: ['filter'] },
  '/qdrant.Points/SearchMatrixOffsets': { kind: 'filter', filters: ['filter'] },
  '/qdrant.Snapshots/Create': { kind: 'refuse', why: 'a snapshot holds every tenant’s points' },
  '/qdrant.Snapshots/List': { kind: 'refuse', why: 'snapshots hold every tenant’s points' },
  '/qdrant.Snapshots/Delete': { kind: 'refuse', why: 'snapshots hold every tenant’s points' },
  '/qdrant.StorageRead/ListFiles': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/FileExists': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/FileLength': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/ReadBytes': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/ReadBytesStream': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/ReadWhole': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
  '/qdrant.StorageRead/ReadBatch': { kind: 'refuse', why: 'storage files hold every tenant’s points' },
};
