// Secrets from files (README "Secrets from files"): `service.api_key_file`, `alt_api_key_file`,
// `read_only_api_key_file` and `upstream.api_key_file` name a file holding the secret (one trailing
// newline is dropped), read at start-up and on every reload. Never both a value and a file for one
// secret. The file must be a regular file of at most 64 KiB; one anyone on the machine may read or
// write is refused; one the group may read is a warning (src/config/warnings.ts).
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import type { Config } from './schema.js';

const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Each secret and the key naming its file: `section.key` → `section.key_file`. */
export const SECRET_FILES = [
  ['service', 'api_key'],
  ['service', 'alt_api_key'],
  ['service', 'read_only_api_key'],
  ['upstream', 'api_key'],
] as const;

/** Fills each secret given by file; throws a ConfigError naming the key. */
export function resolveSecretFiles(config: Config): void {
  for (const [section, key] of SECRET_FILES) {
    const values = config[section] as unknown as Record<string, string | null>;
    const file = values[`${key}_file`];
    if (file === null || file === undefined) continue;
    const name = `${section}.${key}_file`;
    if (values[key] !== null) throw new ConfigError(`${section}.${key} and ${name}: set one, not both`);
    let mode: number;
    let text: string;
    try {
      const info = statSync(file);
      // Checked before reading: a FIFO would block the process, a huge file has no key in it.
      if (!info.isFile()) throw new ConfigError(`${name}: ${file} is not a regular file`);
      if (info.size > MAX_SECRET_FILE_BYTES) throw new ConfigError(`${name}: ${file} is ${info.size} bytes: not a key`);
      mode = info.mode;
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (mode & 0o004) throw new ConfigError(`${name}: ${file} is readable by every user (mode ${octal(mode)}): chmod 600 it (Kubernetes: defaultMode: 0400)`);
    if (mode & 0o002) throw new ConfigError(`${name}: ${file} may be written by every user (mode ${octal(mode)}): chmod 600 it`);
    const secret = text.replace(/\r?\n$/, '');
    if (secret.trim().length === 0) throw new ConfigError(`${name}: ${file} is empty or blank`);
    if (/[\r\n]/.test(secret)) throw new ConfigError(`${name}: ${file} holds more than one line`);
    values[key] = secret;
  }
}

/** `section.key_file` entries whose file the group may read (a warning, not an error). */
export function groupReadableSecretFiles(config: Readonly<Config>): string[] {
  const out: string[] = [];
  for (const [section, key] of SECRET_FILES) {
    const file = (config[section] as unknown as Readonly<Record<string, string | null>>)[`${key}_file`];
    if (!file) continue;
    try {
      const mode = statSync(file).mode;
      if (mode & 0o040) out.push(`${section}.${key}_file: ${file} is readable by its group (mode ${octal(mode)}); chmod 600 it unless the group is meant to`);
    } catch {
      // Unreadable now: the next reload says so.
    }
  }
  return out;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
