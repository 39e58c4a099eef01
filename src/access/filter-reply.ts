// Filters list replies for collection-scoped tokens, as Qdrant does: collections the token names,
// aliases whose own name (and, for ListAliases, target) the token names. Names match literally,
// or by a grant's pattern (`prefix*`) where patterns are allowed.
import type { MessageCodec } from '../api/qdrant-api.js';
import type { ListFilter } from './access-table.js';

/** Whether the token names a collection (or alias). */
type Granted = { has(name: string): boolean };

export function filterReply(filter: ListFilter, granted: Granted, reply: Buffer, codec: MessageCodec): Buffer {
  const message = codec.decode(reply);
  switch (filter) {
    case 'collections':
      message.collections = list(message.collections).filter((c) => granted.has(String(c.name ?? '')));
      break;
    case 'aliases':
      message.aliases = list(message.aliases).filter((a) => granted.has(String(a.alias_name ?? '')) && granted.has(String(a.collection_name ?? '')));
      break;
    case 'collection_aliases':
      message.aliases = list(message.aliases).filter((a) => granted.has(String(a.alias_name ?? '')));
      break;
  }
  return codec.encode(message);
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}
