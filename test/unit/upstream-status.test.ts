import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Status } from '../../src/grpc/status.js';
import { clientStatus, UPSTREAM_UNAVAILABLE } from '../../src/upstream/upstream-status.js';

describe('an upstream outcome as the client sees it', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });

  it('statuses Qdrant sent pass unchanged, trailers included', () => {
    const status = { code: Status.NOT_FOUND, details: "Not found: Collection `c` doesn't exist!", trailers: { 'x-t': '1' } };
    expect(clientStatus({ status, origin: 'upstream' }, '/p', logger)).toBe(status);
  });

  it('local outcomes get a fixed message by code; what happened goes to the log, never to the client', () => {
    const detail = 'connect ECONNREFUSED 10.1.2.3:6334';
    const out = clientStatus({ status: { code: Status.UNAVAILABLE, details: '' }, origin: 'local', detail }, '/p', logger);
    expect(out).toEqual({ code: Status.UNAVAILABLE, details: UPSTREAM_UNAVAILABLE });
    expect(lines.some((l) => l.includes(detail))).toBe(true);
    expect(clientStatus({ status: { code: Status.DEADLINE_EXCEEDED, details: '' }, origin: 'local', detail: 'x' }, '/p', logger).details).toBe(
      'Deadline exceeded',
    );
    expect(clientStatus({ status: { code: Status.INTERNAL, details: '' }, origin: 'local', detail: 'frames' }, '/p', logger).details).toBe(
      'upstream protocol error',
    );
  });
});
