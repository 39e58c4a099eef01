// Static keys, compared in constant time: both sides are hashed to 32 bytes first, so neither the
// content nor the length of a configured key leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

export class KeyMatcher {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly (string | null)[]) {
    this.digests = keys.filter((k): k is string => k !== null).map(digest);
  }

  get empty(): boolean {
    return this.digests.length === 0;
  }

  matches(candidate: string): boolean {
    return this.matchesDigest(digest(candidate));
  }

  /** For callers that hash the candidate once for several matchers. */
  matchesDigest(d: Buffer): boolean {
    let found = false;
    // Compare against every key, without stopping early.
    for (const key of this.digests) found = timingSafeEqual(key, d) || found;
    return found;
  }
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
