import { describe, expect, it } from 'vitest';
import { KeyMatcher } from '../../src/auth/api-keys.js';

describe('KeyMatcher', () => {
  const keys = new KeyMatcher(['first-key', null, 'second-key']);

  it('matches every configured key exactly, and nothing else', () => {
    expect(keys.matches('first-key')).toBe(true);
    expect(keys.matches('second-key')).toBe(true);
    for (const other of ['', 'first-ke', 'first-key ', 'FIRST-KEY', 'first-keyX', 'x'.repeat(10_000)]) expect(keys.matches(other)).toBe(false);
  });

  it('an empty matcher matches nothing', () => {
    const none = new KeyMatcher([null, null]);
    expect(none.empty).toBe(true);
    expect(none.matches('')).toBe(false);
  });
});
