// Audit files named as Qdrant names them (UTC): audit.YYYY-MM-DD.log (daily) or
// audit.YYYY-MM-DD-HH.log (hourly). A new file opens when the period changes; then the oldest are
// deleted so that at most `maxFiles` remain, the new one included. Writes are asynchronous
// (pino's SonicBoom destination), so the call path never waits on the disk.
import { openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { prepareAuditDir } from './audit-dir.js';

type Destination = ReturnType<typeof pino.destination>;

const AUDIT_FILE = /^audit\.\d{4}-\d{2}-\d{2}(-\d{2})?\.log$/;
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

export interface AuditFileOptions {
  readonly dir: string;
  readonly rotation: 'daily' | 'hourly';
  readonly maxFiles: number;
  readonly now: () => number;
  /** Called when a file cannot be opened or pruned; the record is dropped, the call is not failed. */
  readonly onError: (err: Error) => void;
}

const PERIOD_MS = { daily: 24 * 3600 * 1000, hourly: 3600 * 1000 } as const;

export class RotatingAuditFile {
  /** The open file and the UTC period [from, until) its name stands for. */
  private current: { name: string; stream: Destination; from: number; until: number } | null = null;

  /** Throws a ConfigError naming audit.dir when the directory cannot be made or written. */
  constructor(private readonly options: AuditFileOptions) {
    prepareAuditDir(options.dir);
  }

  write(line: string): void {
    const now = this.options.now();
    // The name is formatted only when the period changes (or the clock steps back), not per record.
    if (!this.current || now >= this.current.until || now < this.current.from) this.open(now);
    this.current?.stream.write(line);
  }

  /** Flushes and closes the open file. */
  close(): Promise<void> {
    const current = this.current;
    this.current = null;
    if (!current) return Promise.resolve();
    return endStream(current.stream);
  }

  private open(now: number): void {
    const previous = this.current;
    const name = fileName(now, this.options.rotation);
    const period = PERIOD_MS[this.options.rotation];
    const from = Math.floor(now / period) * period; // UTC: epoch ms have no leap seconds
    try {
      // Opened here, not by SonicBoom (which opens asynchronously): pruning must see every file,
      // and a late open must never recreate a file that was just pruned.
      const fd = openSync(join(this.options.dir, name), 'a', 0o600);
      // Bounded: on a stalled disk, records beyond MAX_BUFFERED_BYTES are dropped (and logged), not kept.
      const stream = pino.destination({ dest: fd, sync: false, maxLength: MAX_BUFFERED_BYTES });
      stream.on('error', (err: Error) => this.options.onError(err));
      stream.on('drop', () => this.options.onError(new Error('audit writes are not keeping up; records dropped')));
      this.current = { name, stream, from, until: from + period };
    } catch (err) {
      this.current = null;
      this.options.onError(err as Error);
    }
    if (previous) void endStream(previous.stream);
    this.prune(name);
  }

  private prune(keep: string): void {
    try {
      const files = readdirSync(this.options.dir)
        .filter((f) => AUDIT_FILE.test(f) && f !== keep)
        .sort();
      // The names sort by time; `keep` counts as one of maxFiles.
      for (const old of files.slice(0, Math.max(0, files.length - (this.options.maxFiles - 1)))) {
        try {
          unlinkSync(join(this.options.dir, old));
        } catch (err) {
          // With `workers: N`, another worker may have pruned it first.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    } catch (err) {
      this.options.onError(err as Error);
    }
  }
}

export function fileName(nowMs: number, rotation: 'daily' | 'hourly'): string {
  const iso = new Date(nowMs).toISOString(); // UTC
  const day = iso.slice(0, 10);
  return rotation === 'daily' ? `audit.${day}.log` : `audit.${day}-${iso.slice(11, 13)}.log`;
}

function endStream(stream: Destination): Promise<void> {
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
    stream.end();
  });
}
