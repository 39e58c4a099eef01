import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe("the project's one Node", () => {
  it('is the one the tests run on (.node-version; make puts it on PATH)', () => {
    const pinned = readFileSync(new URL('../../.node-version', import.meta.url), 'utf8').trim();
    expect(process.version).toBe(`v${pinned}`);
  });
});
