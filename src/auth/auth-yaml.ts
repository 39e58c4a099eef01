// The auth files' YAML (auth.keys_file, auth.revocations_file): js-yaml with the core schema
// (timestamps stay strings; no custom tags), a repeated key refused. Not the config's parser: a
// keys file grows with the keys, and on a 10,000-key file js-yaml reads in ~50 ms what takes the
// config's parser ~500 ms, on the event loop (bench/auth-cost.mjs).
import { CORE_SCHEMA, load } from 'js-yaml';

/** A problem in an auth file: names the file and the entry; the set in force stays. */
export class AuthFileError extends Error {}

/** The document, or null for an empty file. */
export function parseAuthYaml(text: string, source: string): unknown {
  if (text.trim() === '') return null;
  let doc: unknown;
  try {
    doc = load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    throw new AuthFileError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  refuseSharedNodes(doc, source);
  return doc;
}

/**
 * An alias makes two places of the document one node: a few hundred bytes of nested aliases stand
 * for billions of nodes to whatever walks them (an error message, a check). Auth files need none.
 */
function refuseSharedNodes(doc: unknown, source: string): void {
  const seen = new Set<object>();
  const pending: unknown[] = [doc];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (seen.has(node)) throw new AuthFileError(`${source}: YAML aliases (*name) of lists or mappings are not accepted in auth files`);
    seen.add(node);
    pending.push(...Object.values(node));
  }
}

/**
 * A value from an auth file as an error message shows it: at most 60 characters, and never a
 * credential pasted where it does not belong (a named key, a JWT).
 */
export function shown(value: unknown): string {
  if (typeof value === 'string' && (value.startsWith('qap_') || /^eyJ[\w-]*\.[\w-]*\./.test(value))) return '(a credential: treat it as leaked)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
