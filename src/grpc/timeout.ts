// `grpc-timeout`, read as tonic (Qdrant's gRPC server) reads it: at most 8 characters of an unsigned
// integer (Rust's u64 parser takes a leading '+') and one unit letter. A value tonic cannot read is
// ignored there (the call has no deadline), so it is ignored here too.

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The timeout in milliseconds, or null when the header is absent or unreadable. */
export function parseGrpcTimeout(value: string | undefined): number | null {
  if (value === undefined || value.length < 2) return null;
  const digits = value.slice(0, -1);
  const unit = UNIT_MS[value.slice(-1)];
  if (unit === undefined || digits.length > 8 || !/^\+?\d+$/.test(digits)) return null;
  return Number(digits) * unit;
}

/** The `grpc-timeout` value for a remaining time, in whole milliseconds (at least 1). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}
