import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bindDefinesAccessor, leanBind } from '../../src/ops/async-bind.js';

const FIXTURE = fileURLToPath(new URL('../helpers/http2-promotion.mjs', import.meta.url));

/** Bytes promoted to the old generation per request, over the fixture's measured requests. */
function promotedPerRequest(variant: 'node' | 'lean'): number {
  const run = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--trace-gc-nvp', '--max-semi-space-size=1', FIXTURE, variant], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  let measuring = false;
  let promoted = 0;
  let scavenges = 0;
  let requests = 0;
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('MEASURE START')) measuring = true;
    else if (line.startsWith('MEASURE END')) {
      measuring = false;
      requests = Number(line.split(' ')[2]);
    } else if (measuring && line.includes(' gc=s ')) {
      scavenges++;
      promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? Number.NaN);
    }
  }
  expect(scavenges).toBeGreaterThan(10); // the young generation was collected often enough to see
  return promoted / requests;
}

describe('AsyncResource bind without the accessor pair', () => {
  it('runs the function in the resource’s async scope, with the caller’s this', () => {
    const storage = new AsyncLocalStorage<string>();
    const resource = storage.run('at creation', () => new AsyncResource('test'));
    const seen: unknown[] = [];
    const bound = leanBind.call(resource, function (this: unknown, a: unknown, b: unknown) {
      seen.push(storage.getStore(), executionAsyncId(), this, a, b);
      return 'result';
    });
    const self = { name: 'caller' };
    expect(storage.run('at the call', () => bound.call(self, 1, 2))).toBe('result');
    expect(seen).toEqual(['at creation', resource.asyncId(), self, 1, 2]);
  });

  it('binds thisArg when given, keeps length, and offers asyncResource as a data property', () => {
    const resource = new AsyncResource('test');
    const target = { name: 'bound this' };
    const bound = leanBind.call(
      resource,
      function (this: unknown, _a: unknown, _b: unknown, _c: unknown) {
        return this;
      },
      target,
    );
    expect(bound.call({ name: 'other' })).toBe(target);
    expect(bound.length).toBe(3);
    const descriptor = Object.getOwnPropertyDescriptor(bound, 'asyncResource');
    expect(descriptor?.value).toBe(resource);
    expect(descriptor?.get).toBeUndefined();
  });

  it('refuses what is not a function, as node does', () => {
    expect(() => leanBind.call(new AsyncResource('test'), 42 as never)).toThrow(TypeError);
  });

  it('is needed on this Node: its own bind defines the getter pair', () => {
    expect(bindDefinesAccessor()).toBe(true);
    expect(bindDefinesAccessor(leanBind)).toBe(false);
  });

  it('stops node:http2 client requests from surviving into the old generation', () => {
    // Node's own bind: each request's stream is kept alive by its old-generation accessor pair.
    expect(promotedPerRequest('node')).toBeGreaterThan(1000);
    expect(promotedPerRequest('lean')).toBeLessThan(300);
  });
});
