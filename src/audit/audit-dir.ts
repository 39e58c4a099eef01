// The audit directory: created (with its missing parents) when the audit log starts, and checked by
// check-config. Each missing level is made on its own (node's recursive mkdir loops forever on some
// file systems, /proc among them), and any failure names audit.dir.
import { accessSync, constants, mkdirSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config/config-error.js';

/** Creates `dir` and its missing parents; throws a ConfigError naming audit.dir when it cannot be written. */
export function prepareAuditDir(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!exists(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw problem(dir, `cannot create ${level}`, err);
    }
  }
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw problem(dir, 'cannot write to it', err);
  }
}

/** Why the audit log could not write to `dir` (without creating anything); null when it could. */
export function auditDirProblem(dir: string): string | null {
  let at = resolve(dir);
  while (!exists(at)) {
    const parent = dirname(at);
    if (parent === at) return `audit.dir: ${dir}: no existing parent directory`;
    at = parent;
  }
  try {
    if (!statSync(at).isDirectory()) return `audit.dir: ${at} is not a directory`;
    // Tried, not asked (access() says yes to root everywhere, /proc included): a directory made and removed.
    rmdirSync(mkdtempSync(join(at, '.qdrant-auth-proxy-check-')));
    return null;
  } catch (err) {
    return `audit.dir: ${dir}: cannot write to ${at} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function problem(dir: string, what: string, err: unknown): ConfigError {
  return new ConfigError(`audit.dir: ${dir}: ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
}
