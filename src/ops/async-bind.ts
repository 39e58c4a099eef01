// Every upstream request used to outlive itself until the next full garbage collection.
//
// node:http2's ClientHttp2Session.request() wraps each request in `AsyncResource.prototype.bind`,
// which (Node 22) gives the bound function its deprecated `asyncResource` property (DEP0172) as a
// getter/setter pair. V8 allocates that pair in the old generation, and through the getter's closure
// it refers to the request's stream, whose listeners refer to the proxy's call. The young
// generation's collector treats every old-to-young reference as alive, so each upstream stream and
// the whole call behind it survived every scavenge and was promoted, to die only at the next
// mark-compact: ~6 KB promoted per call even with one call in flight, a mark-compact every 1-1.5 s
// under load with 16-27 ms pauses (the p99), and the old generation full of dead calls (the RSS).
//
// The replacement binds the same way (same async scope, `this`, `length`) and keeps
// `asyncResource` as a plain data property, which V8 stores with the function: nothing old refers to
// the request. Measured at one call in flight (Points/Count, `node --trace-gc-nvp`): 6.0 KB promoted
// per call before, 6 bytes after, and no mark-compact at all (BENCHMARKS.md, issue 18 notes).
// Applied by `serve` only, and only where the runtime's bind still defines the getter pair.
import { AsyncResource } from 'node:async_hooks';

type Bind = (this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) => (...args: unknown[]) => unknown;

/** `AsyncResource.prototype.bind` with `asyncResource` as a data property (no accessor pair in the old generation). */
function bind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown): (...args: unknown[]) => unknown {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
  const resource = this;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : (...args: unknown[]) => resource.runInAsyncScope(fn, thisArg, ...args);
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  Object.defineProperty(bound, 'asyncResource', { configurable: true, enumerable: true, writable: true, value: resource });
  return bound;
}

/** True when this runtime's bind gives bound functions an `asyncResource` getter (what this replaces). */
export function bindDefinesAccessor(original: Bind = AsyncResource.prototype.bind as Bind): boolean {
  const probe = original.call(new AsyncResource('qdrant-auth-proxy-probe'), () => undefined);
  return typeof Object.getOwnPropertyDescriptor(probe, 'asyncResource')?.get === 'function';
}

/** Installs the replacement where the runtime needs it; returns whether it did. */
export function installLeanAsyncBind(): boolean {
  if ((AsyncResource.prototype.bind as Bind) === bind || !bindDefinesAccessor()) return false;
  AsyncResource.prototype.bind = bind as typeof AsyncResource.prototype.bind;
  return true;
}

export { bind as leanBind };
