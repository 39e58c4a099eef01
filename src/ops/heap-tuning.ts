// V8 heap tuning for a proxy's allocation pattern, applied when `serve` starts.
//
// The proxy's live heap is small (~20 MB) while every call allocates Buffers outside it. V8 counts
// that external memory against the old generation's allocation limit (live size x a growing
// factor it picks, ~2.2 here), so with large messages it ran a full mark-compact every few calls:
// `Points/Upsert` (310 KB) spent a third of the proxy's main thread in GC. Pinning the factor at 3x
// makes those collections rare. Measured with bench/compare.sh (CALL=upsert, 3 rounds, same run):
// 6.9 ms proxy CPU per call at 3x, 6.8 at 4x, 9.6 with V8's own choice; peak RSS 142, 160 and
// 113 MB. Points/Count showed no difference beyond the noise. 3x keeps most of the CPU for less memory.
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 200;
const FLAG = 'heap-growing-percent';

/** Sets the growing factor unless the operator chose one (`node --heap-growing-percent=N`; NODE_OPTIONS cannot carry it). */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  const chosen = execArgv.some((arg) => arg.replace(/_/g, '-').startsWith(`--${FLAG}`));
  if (chosen) return false;
  v8.setFlagsFromString(`--${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
