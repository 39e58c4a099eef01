// One read of an identity provider's JSON document (OpenID discovery or a JWKS). Over HTTPS: its own
// CA when configured, a deadline, a size cap, no redirects followed (a redirect is an error: a key
// set comes from the URL configured, nowhere else). From a file (jwks_file): a regular file only,
// the same deadline and cap. URLs in errors (logged, shown by /readyz) lose any user:password and
// query string.
import { readFile, stat } from 'node:fs/promises';
import { get } from 'node:https';

export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** PEM CA bundle; null: the system's roots. */
  readonly ca: Buffer | null;
}

export function fetchJson(url: string, options: FetchOptions): Promise<unknown> {
  const shown = displayUrl(url);
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    const request = get(url, { ...(options.ca ? { ca: options.ca } : {}), headers: { accept: 'application/json' } }, (response) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.resume();
        const location = response.headers.location;
        const where = status >= 300 && status < 400 ? `a redirect to ${location ? displayUrl(location, url) : '?'} (not followed)` : `HTTP ${status}`;
        return done(new Error(`${shown} answered ${where}`));
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        response.destroy();
        return done(new Error(`${shown} is ${declared} bytes, over ${options.maxBytes}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          response.destroy();
          return done(new Error(`${shown} is over ${options.maxBytes} bytes`));
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        try {
          done(null, JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          done(new Error(`${shown} is not JSON`));
        }
      });
      response.on('error', (err) => done(err));
    });
    const timer = setTimeout(() => {
      request.destroy();
      done(new Error(`${shown} did not answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('error', (err) => done(err));
  });
}

/** Files being read: one read per file at a time, so a file that blocks (a FIFO, a hung mount) holds one thread, not one per refresh. */
const reading = new Set<string>();

/** A JWKS file: a regular file of at most `maxBytes`, read within `timeoutMs`. */
export async function readJsonFile(file: string, options: Pick<FetchOptions, 'timeoutMs' | 'maxBytes'>): Promise<unknown> {
  if (reading.has(file)) throw new Error(`${file}: the previous read has not finished`);
  reading.add(file);
  const read = (async () => {
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a regular file`);
    if (info.size > options.maxBytes) throw new Error(`${file} is ${info.size} bytes, over ${options.maxBytes}`);
    return readFile(file, 'utf8');
  })().finally(() => reading.delete(file));
  let timer: NodeJS.Timeout | undefined;
  const text = await Promise.race([
    read,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${file} was not read within ${options.timeoutMs} ms`)), options.timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (Buffer.byteLength(text) > options.maxBytes) throw new Error(`${file} is over ${options.maxBytes} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON`);
  }
}

/** A URL as errors show it: scheme, host, port and path; no user:password, query or fragment. */
export function displayUrl(url: string, base?: string): string {
  try {
    const u = new URL(url, base);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(an unreadable URL)';
  }
}
