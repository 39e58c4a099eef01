// V8 heap tuning for a proxy's allocation pattern, applied when `serve` starts.
//
// The proxy's live heap is small (~20 MB) while every call allocates Buffers outside it. V8 counts
// that external memory against the old generation's allocation limit (live size x a growing
// factor it picks, ~2.2 here), so with large messages it ran a full mark-compact every few calls:
// `Points/Upsert` (310 KB) spent a third of the proxy's main thread in GC with V8's own choice.
// Pinning the factor makes those collections rare. It was 3x while every call was promoted to the
// old generation (src/ops/async-bind.ts); with that gone, 3x held more memory than before (what still
// ages into the old generation, calls in flight at a scavenge and the native memory their header
// strings hold, is collected later) and 2x cost large calls CPU. Measured with bench/compare.sh, 3
// interleaved rounds, same run: lean Points/Count (JWT, full load) peak RSS 192-197 MB at 2x, 200-201
// at 2.5x, 233-246 at 3x, and 122 / 109 / 141 MB 30 s after the load; Points/Upsert (ghz, stand-in,
// 310 KB) 3.46-4.06 ms of proxy CPU per call at 2x, 3.11-3.58 at 2.5x, 2.72-3.21 at 3x. 2.5x keeps
// most of 3x's CPU on large calls for 2x's memory (BENCHMARKS.md, issue 18).
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 150;
const FLAG = 'heap-growing-percent';

/** Sets the growing factor unless the operator chose one (`node --heap-growing-percent=N`; NODE_OPTIONS cannot carry it). */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  const chosen = execArgv.some((arg) => arg.replace(/_/g, '-').startsWith(`--${FLAG}`));
  if (chosen) return false;
  v8.setFlagsFromString(`--${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
