// V8 heap tuning for a proxy's allocation pattern, applied when `serve` starts.
//
// The proxy's live heap is small (~20 MB) while every call allocates Buffers outside it. V8 counts
// that external memory against the old generation's allocation limit (live size x a growing
// factor it picks, ~2.2 here), so with large messages it ran a full mark-compact every few calls:
// `Points/Upsert` (310 KB) spent a third of the proxy's main thread in GC with V8's own choice.
// Pinning the factor makes those collections rare. It was 3x while every call was promoted to the
// old generation (src/ops/async-bind.ts); with that gone, 2x keeps about the CPU 3x had then and
// holds less memory, because what still ages into the old generation (calls in flight at a
// scavenge, with the native memory their header strings hold) is collected sooner. Measured with
// bench/compare.sh (lean set, JWT, full load, 3 interleaved rounds, same run): Points/Count peak RSS
// 166-168 MB at 2x, 213-284 at 3x, 202-210 for the build before the bind change at 3x, and 99 MB 30 s
// after the load (171 at 3x); proxy CPU per call 0.102-0.116 ms at 2x, 0.091-0.110 at 3x, 0.102-0.143
// before. Points/Upsert (ghz, stand-in) 3.0-4.3 ms at 2x, 2.6-3.5 at 3x (BENCHMARKS.md, issue 18).
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;
const FLAG = 'heap-growing-percent';

/** Sets the growing factor unless the operator chose one (`node --heap-growing-percent=N`; NODE_OPTIONS cannot carry it). */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  const chosen = execArgv.some((arg) => arg.replace(/_/g, '-').startsWith(`--${FLAG}`));
  if (chosen) return false;
  v8.setFlagsFromString(`--${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
