// Waiting for something to happen, by looking at it: no test sleeps for a fixed time and hopes.

/** Resolves once `check` holds; polls every `everyMs`, fails after `timeoutMs` naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', everyMs = 25): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
