import { describe, expect, it } from 'vitest';
import { tuneHeap } from '../../src/ops/heap-tuning.js';

describe('heap tuning', () => {
  it("leaves a growing factor the operator chose on node's command line, in either flag spelling", () => {
    expect(tuneHeap(['--heap-growing-percent=150'])).toBe(false);
    expect(tuneHeap(['--max-old-space-size=512', '--heap_growing_percent=120'])).toBe(false);
  });

  it('sets it otherwise (other flags do not count)', () => {
    expect(tuneHeap(['--max-semi-space-size=8', '--max-old-space-size=512'])).toBe(true);
  });
});
