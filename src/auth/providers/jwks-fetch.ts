// One HTTPS GET of an identity provider's JSON document (OpenID discovery or a JWKS): its own CA when
// configured, a deadline, a size cap, no redirects followed (a redirect is an error: a key set comes
// from the URL configured, nowhere else), JSON only.
import { get } from 'node:https';

export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** PEM CA bundle; null: the system's roots. */
  readonly ca: Buffer | null;
}

export function fetchJson(url: string, options: FetchOptions): Promise<unknown> {
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
        const where = status >= 300 && status < 400 ? `a redirect to ${response.headers.location ?? '?'} (not followed)` : `HTTP ${status}`;
        return done(new Error(`${url} answered ${where}`));
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        response.destroy();
        return done(new Error(`${url} is ${declared} bytes, over ${options.maxBytes}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          response.destroy();
          return done(new Error(`${url} is over ${options.maxBytes} bytes`));
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        try {
          done(null, JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          done(new Error(`${url} is not JSON`));
        }
      });
      response.on('error', (err) => done(err));
    });
    const timer = setTimeout(() => {
      request.destroy();
      done(new Error(`${url} did not answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('error', (err) => done(err));
  });
}
