// Demo certificates for tests, made once per test run by certs/gen-certs.sh into a temp directory.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = new URL('../../certs/gen-certs.sh', import.meta.url).pathname;

export interface TestCerts {
  readonly dir: string;
  path(name: string): string;
}

export function testCerts(): TestCerts {
  const dir = join(tmpdir(), `qap-certs-${process.ppid}`);
  if (!existsSync(join(dir, 'ca.pem'))) {
    // Test files run in parallel: make the set aside, then move it into place in one step.
    const staging = `${dir}.staging-${process.pid}`;
    mkdirSync(staging, { recursive: true });
    execFileSync('bash', [SCRIPT, staging], { stdio: 'ignore' });
    try {
      renameSync(staging, dir);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another worker won the race
    }
  }
  return { dir, path: (name) => join(dir, name) };
}
