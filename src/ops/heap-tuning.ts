// V8 heap tuning for a proxy's allocation pattern, applied when `serve` starts.
//
// The proxy's live heap is small (~20 MB) while every call allocates Buffers outside it. V8 counts
// that external memory against the old generation's allocation limit (live size x a growing
// factor it picks, ~2.2 here), so with large messages it ran a full mark-compact every few calls:
// `Points/Upsert` (310 KB) spent a third of the proxy's main thread in GC. Pinning the factor at
// V8's own maximum (4x) makes those collections rare. Measured with ghz on the stand-in (see
// BENCHMARKS.md notes): Upsert -36% proxy CPU per call, Count -5%; peak RSS on Upsert +40 MB.
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 300;
const FLAG = 'heap-growing-percent';

/** Sets the growing factor unless the operator chose one (`node --heap-growing-percent=N`; NODE_OPTIONS cannot carry it). */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  const chosen = execArgv.some((arg) => arg.replace(/_/g, '-').startsWith(`--${FLAG}`));
  if (chosen) return false;
  v8.setFlagsFromString(`--${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
