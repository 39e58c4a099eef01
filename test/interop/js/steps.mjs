// What the JS interop programs share (interop.mjs, oidc.mjs): the PASS/FAIL line contract of
// test/interop/run.sh, and a check that a call fails with a given gRPC code.
import { Code, ConnectError } from '@connectrpc/connect';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

/** Runs `fn`, which must fail with gRPC `code`; returns "CODE message". */
export async function expectCode(code, what, fn) {
  try {
    await fn();
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code !== code) throw new Error(`${what}: expected ${Code[code]}, got ${Code[e.code]} ${e.rawMessage}`);
    return `${Code[e.code]} "${e.rawMessage}"`;
  }
  throw new Error(`${what}: expected ${Code[code]}, but it succeeded`);
}

/** Prints "PASS name: detail" with what `fn` returns, or "FAIL name: why". */
export async function step(name, fn) {
  try {
    console.log(`PASS ${name}: ${await fn()}`);
  } catch (err) {
    const e = err instanceof ConnectError ? `${Code[err.code]} ${err.rawMessage}` : (err?.message ?? String(err));
    console.log(`FAIL ${name}: ${e}`);
  }
}
