// The order every call goes through, written once, in request order:
//   1. health bypass   (rules with need "none" skip authentication, as in Qdrant)
//   2. authenticate    (api-key / Bearer, else a mapped client certificate → principal)
//   3. value_exists    (JWT claim checked against the upstream, cached)
//   4. authorize       (the method's access-table row; decodes only collection fields)
//   5. forward         (the caller sends the raw bytes upstream)
//   6. filter reply    (list replies for collection-scoped tokens)
// Any error thrown by a stage denies the call: nothing is forwarded after a failure. Oversized
// metadata is refused before stage 2 (limits.max_metadata_bytes).
import type { PeerCertificate } from 'node:tls';
import type { Metadata } from '@grpc/grpc-js';
import { ALLOW, authorize, type Decision } from '../access/authorize.js';
import type { CompiledRule } from '../access/compile-rules.js';
import { filterReply } from '../access/filter-reply.js';
import { NO_AUTH_PRINCIPAL, type Principal } from '../auth/principal.js';
import type { Engine } from '../engine.js';
import { ProxyError } from '../errors.js';

export interface Admitted {
  readonly principal: Principal;
  readonly decision: Decision;
}

/** What is known of a call so far, for its audit record (a denial may come after authentication). */
export interface Progress {
  principal: Principal | null;
}

type CallerContext = { readonly metadata: Metadata; getAuthContext(): { sslPeerCertificate?: PeerCertificate } };

/**
 * Stages 1-4 for a call whose access-table row is `rule` (engine.rules.get(path), looked up once per
 * call by the caller). Resolves when the call may go upstream; rejects with a ProxyError otherwise.
 */
export async function admit(engine: Engine, rule: CompiledRule | undefined, call: CallerContext, request: Uint8Array, progress: Progress): Promise<Admitted> {
  if (rule?.need.scope === 'none') return { principal: NO_AUTH_PRINCIPAL, decision: ALLOW };
  const principal = await identify(engine, call, progress);
  if (!engine.auth.enabled) return { principal, decision: ALLOW };
  if (!rule) throw new ProxyError('method_not_in_table');
  return { principal, decision: authorize(rule, principal, request) };
}

/** Stages 2-3 (and the metadata limit before them); also all that server reflection requires. */
export async function identify(engine: Engine, call: CallerContext, progress: Progress): Promise<Principal> {
  if (metadataBytes(call.metadata) > engine.config.limits.max_metadata_bytes) throw new ProxyError('metadata_too_large');
  const principal = await engine.auth.authenticate(call.metadata, () => call.getAuthContext().sslPeerCertificate);
  progress.principal = principal;
  if (engine.auth.enabled && principal.valueExists) await engine.valueExists.check(principal.valueExists);
  return principal;
}

function metadataBytes(metadata: Metadata): number {
  let total = 0;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const v of values) total += key.length + v.length;
  }
  return total;
}

/** Stage 6. */
export function finishReply(engine: Engine, path: string, admitted: Admitted, reply: Buffer): Buffer {
  const { decision, principal } = admitted;
  if (decision.filter === null || principal.access !== 'collections') return reply;
  const codec = engine.api.methods.get(path)?.response;
  if (!codec) throw new ProxyError('internal'); // compileRules refuses such a table; never allow unfiltered
  return filterReply(decision.filter, principal.collections, reply, codec);
}
