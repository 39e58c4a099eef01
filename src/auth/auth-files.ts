// The auth files the config names, `auth.keys_file` and `auth.revocations_file`: read at start-up
// (a broken file stops it), re-read on SIGHUP (a broken file refuses the reload) and whenever one
// changes (checked every 250 ms; a broken file is logged with the entry named and the set in force
// keeps serving). Each successful read hands a new state to `onChange`, which swaps the engine. A
// file whose text is the one in force is not parsed again: its keys stay as they were accepted (a
// key that has expired since then is refused per call, and never blocks a change to the other
// file, a revocation above all).
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
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
  readonly texts?: { readonly keys: string | null; readonly revocations: string | null };
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
  private settings: Pick<Config['auth'], 'keys_file' | 'revocations_file' | 'key_expiry_warning_days'> = {
    keys_file: null,
    revocations_file: null,
    key_expiry_warning_days: 14,
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
  read(auth: Pick<Config['auth'], 'keys_file' | 'revocations_file'>): AuthFilesState {
    return this.readFiles(auth.keys_file, auth.revocations_file);
  }

  /** Puts what `read` returned in force, and follows the files `auth` names. */
  commit(auth: Config['auth'], state: AuthFilesState): void {
    this.settings = auth;
    this.state = state;
    this.follow([auth.keys_file, auth.revocations_file].filter((f): f is string => f !== null));
    this.warnExpiring();
  }

  stop(): void {
    clearInterval(this.timer);
    this.follow([]);
  }

  private readFiles(keysFile: string | null, revocationsFile: string | null): AuthFilesState {
    const now = this.hooks.now();
    const texts = { keys: keysFile === null ? null : readText(keysFile), revocations: revocationsFile === null ? null : readText(revocationsFile) };
    const prior = this.state.texts;
    const keys =
      texts.keys === null
        ? null
        : texts.keys === prior?.keys && this.state.keys
          ? this.state.keys
          : new NamedKeyStore(parseKeysFile(texts.keys, keysFile!, now), this.hooks.onKeyUse);
    const revocations =
      texts.revocations === null
        ? Revocations.NONE
        : texts.revocations === prior?.revocations
          ? this.state.revocations
          : parseRevocationsFile(texts.revocations, revocationsFile!);
    return { keys, revocations, texts };
  }

  private follow(files: string[]): void {
    for (const file of this.watched) unwatchFile(file);
    this.watched = files;
    for (const file of files) watchFile(file, { interval: POLL_MS, persistent: false }, () => this.reread(file));
  }

  private reread(file: string): void {
    try {
      this.state = this.read(this.settings);
    } catch (err) {
      this.hooks.logger.error({ file, err: (err as Error).message }, 'auth file refused; the keys and revocations in force stay');
      return;
    }
    this.hooks.onChange(this.state, file);
    this.warnExpiring();
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

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
