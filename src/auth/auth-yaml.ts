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
  try {
    return load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    throw new AuthFileError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}
