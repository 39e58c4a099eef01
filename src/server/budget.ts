// A limit on something many calls hold at once: message bytes in memory (limits.max_buffered_*_bytes)
// or calls in flight (limits.max_calls_in_flight). A call reserves before it holds and releases when
// it ends; a reservation that does not fit is refused, never waited for.

export class Budget {
  private used = 0;
  private peak = 0;

  constructor(readonly limit: number) {}

  /** Reserves `bytes`; false when that would exceed the limit. */
  reserve(bytes: number): boolean {
    if (bytes < 0 || this.used + bytes > this.limit) return false;
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }

  /** The highest use so far (for tests and metrics). */
  get highWater(): number {
    return this.peak;
  }
}

/** One call's share of a budget: everything it reserved is released once, when the call ends. */
export class Reservation {
  private held = 0;
  private closed = false;

  constructor(private readonly budget: Budget) {}

  /** False when the budget cannot grant it (or the call already ended). */
  take(bytes: number): boolean {
    if (this.closed || !this.budget.reserve(bytes)) return false;
    this.held += bytes;
    return true;
  }

  /** Gives back part of what was taken (e.g. the unused rest of a decompression allowance). */
  giveBack(bytes: number): void {
    const n = Math.min(bytes, this.held);
    this.held -= n;
    this.budget.release(n);
  }

  close(): void {
    this.closed = true;
    this.budget.release(this.held);
    this.held = 0;
  }
}
