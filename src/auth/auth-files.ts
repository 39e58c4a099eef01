// The auth files the config names, `auth.keys_file` and `auth.revocations_file`: read at start-up
// (a broken file stops it), re-read on SIGHUP (a broken file refuses the reload) and whenever one
// changes (checked every 250 ms; only the file that changed is read again; a broken file is logged
// with the entry named and the set in force keeps serving). Each successful read hands a new state to `onChange`, which swaps the engine. A
// file whose text is the one in force is not parsed again: its keys stay as they were accepted (a
// key that has expired since then is refused per call, and never blocks a change to the other
// file, a revocation above all).
import { readFileSync, type Stats, statSync, unwatchFile, watchFile } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { KeyUse } from './named-keys/key-store.js';
import { NamedKeyStore } from './named-keys/key-store.js';
import { parseKeysFile } from './named-keys/keys-file.js';
import { parseRevocationsFile, Revocations } from './revocations.js';

export interface AuthFilesState {
  /** Null when no keys file is configured. */
  readonly keys: NamedKeyStore | null;
  readonly revocations: Revocations;
  /** The texts they were read from (null: no such file). */
  readonly texts?: { readonly keys: string | null; readonly revocations: string | null; readonly tenantIsolation: boolean };
}

export interface AuthFilesHooks {
  readonly logger: Logger;
  readonly now: () => number;
  readonly onKeyUse: (use: KeyUse) => void;
  /** A file changed and was read: the new state is in force once this returns. */
  readonly onChange: (state: AuthFilesState, file: string) => void;
}

const POLL_MS = 250;
const HOUR_MS = 3600 * 1000;

export class AuthFiles {
  state: AuthFilesState = { keys: null, revocations: Revocations.NONE };
  private settings: Pick<Config['auth'], 'keys_file' | 'revocations_file' | 'key_expiry_warning_days' | 'tenant_isolation'> = {
    keys_file: null,
    revocations_file: null,
    key_expiry_warning_days: 14,
    tenant_isolation: false,
  };
  private watched: string[] = [];
  private warned = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly hooks: AuthFilesHooks) {
    // Keys drawing near their expiry are logged again every day they stay so.
    this.timer = setInterval(() => this.warnExpiring(), HOUR_MS);
    this.timer.unref();
  }

  /** Reads the files `auth` names and follows them from now on; throws, changing nothing, when one is broken. */
  configure(auth: Config['auth']): AuthFilesState {
    const state = this.read(auth);
    this.commit(auth, state);
    return state;
  }

  /** Reads the files `auth` names, changing nothing (a reload reads everything before it applies anything). */
  read(auth: Pick<Config['auth'], 'keys_file' | 'revocations_file' | 'tenant_isolation'>): AuthFilesState {
    return this.readFiles(auth.keys_file, auth.revocations_file, auth.tenant_isolation);
  }

  /** Puts what `read` returned in force, and follows the files `auth` names. */
  commit(auth: Config['auth'], state: AuthFilesState): void {
    this.settings = auth;
    this.state = state;
    this.follow([auth.keys_file, auth.revocations_file].filter((f): f is string => f !== null));
    this.crossCheck();
    this.warnExpiring();
  }

  stop(): void {
    clearInterval(this.timer);
    this.follow([]);
  }

  private readFiles(keysFile: string | null, revocationsFile: string | null, tenantIsolation: boolean, only?: string): AuthFilesState {
    const prior = this.state.texts;
    // A change to one file re-reads that file alone: a broken keys file never holds back a revocation.
    const keysText = keysFile === null ? null : only !== undefined && only !== keysFile ? (prior?.keys ?? readText(keysFile)) : readText(keysFile);
    const revocationsText =
      revocationsFile === null
        ? null
        : only !== undefined && only !== revocationsFile
          ? (prior?.revocations ?? readText(revocationsFile))
          : readText(revocationsFile);
    const keys =
      keysText === null
        ? null
        : keysText === prior?.keys && tenantIsolation === prior.tenantIsolation && this.state.keys
          ? this.state.keys
          : new NamedKeyStore(parseKeysFile(keysText, keysFile!, this.hooks.now(), { tenantIsolation }), this.hooks.onKeyUse);
    const revocations =
      revocationsText === null
        ? Revocations.NONE
        : revocationsText === prior?.revocations
          ? this.state.revocations
          : parseRevocationsFile(revocationsText, revocationsFile!);
    return { keys, revocations, texts: { keys: keysText, revocations: revocationsText, tenantIsolation } };
  }

  private follow(files: string[]): void {
    for (const file of this.watched) unwatchFile(file);
    this.watched = files;
    for (const file of files) watchFile(file, { interval: POLL_MS, persistent: false }, () => this.reread(file));
  }

  private reread(file: string): void {
    const previous = this.state;
    try {
      this.state = this.readFiles(this.settings.keys_file, this.settings.revocations_file, this.settings.tenant_isolation, file);
      if (this.state.keys === previous.keys && this.state.revocations === previous.revocations) return; // touched, not changed
      this.hooks.onChange(this.state, file);
    } catch (err) {
      this.state = previous;
      this.hooks.logger.error({ file, err: (err as Error).message }, 'auth file refused; the keys and revocations in force stay');
      return;
    }
    this.crossCheck();
    this.warnExpiring();
  }

  /** Revocations naming key ids the keys file lacks revoke nothing: most likely a typo, so say so. */
  private crossCheck(): void {
    const { keys, revocations } = this.state;
    const unknown = revocations.keyIdsOutside(keys);
    if (unknown.length > 0)
      this.hooks.logger.warn({ key_ids: unknown }, 'auth.revocations_file key_ids name no key of auth.keys_file (ids are case-sensitive)');
  }

  private warnExpiring(): void {
    const keys = this.state.keys;
    if (!keys) return;
    const now = this.hooks.now();
    for (const key of keys.expiringWithin(now, this.settings.key_expiry_warning_days * 24 * HOUR_MS)) {
      if (now - (this.warned.get(key.id) ?? Number.NEGATIVE_INFINITY) < 24 * HOUR_MS) continue;
      this.warned.set(key.id, now);
      const days = Math.round(((key.expiresAt! - now) / (24 * HOUR_MS)) * 10) / 10;
      this.hooks.logger.warn({ key_id: key.id, expires_at: new Date(key.expiresAt!).toISOString(), days_left: days }, 'named key expires soon');
    }
  }
}

/** Larger auth files are refused (a 10,000-key file is about 1.5 MB). */
export const MAX_AUTH_FILE_BYTES = 64 * 1024 * 1024;

/**
 * An auth file: a regular file (a FIFO would block the process) of bounded size, which no other
 * user may write (whoever can write the keys file can give themselves a key).
 */
function readText(file: string): string {
  let info: Stats;
  try {
    info = statSync(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!info.isFile()) throw new Error(`${file} is not a regular file`);
  if (info.size > MAX_AUTH_FILE_BYTES) throw new Error(`${file} is ${info.size} bytes, over ${MAX_AUTH_FILE_BYTES}`);
  if (info.mode & 0o002) throw new Error(`${file} may be written by every user (mode 0${(info.mode & 0o777).toString(8)}): chmod o-w it`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
