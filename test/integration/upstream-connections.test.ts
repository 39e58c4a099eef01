// upstream.connections (http2 transport): calls are spread over that many HTTP/2 connections in turn,
// and a connection the upstream drops is replaced without failing the calls after it.
import { afterEach, describe, expect, it } from 'vitest';
import { forwardedSince, type Stack, startStack, startStandinMtls } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const LIST = '/qdrant.Collections/List';

describe('upstream.connections', () => {
  let stack: Stack | null = null;
  afterEach(async () => {
    await stack?.stop();
    stack = null;
  });

  const peersOf = async (s: Stack, calls: number) => {
    const from = s.standin.calls.length;
    for (let i = 0; i < calls; i++) expect((await rawUnary(s.client, LIST, Buffer.alloc(0), md({}))).code).toBe(0);
    return new Set(forwardedSince(s.standin, from).map((c) => c.peer));
  };

  it('1 (the default): every call on one connection', async () => {
    stack = await startStack();
    expect((await peersOf(stack, 6)).size).toBe(1);
  });

  it('3: calls go over three connections in turn', async () => {
    stack = await startStack({ upstream: { connections: 3 } });
    expect((await peersOf(stack, 6)).size).toBe(3);
  });

  it('connections the upstream closes are replaced: after a restart of the upstream, calls go over new ones', async () => {
    stack = await startStack({ upstream: { connections: 2 } });
    const before = await peersOf(stack, 4);
    expect(before.size).toBe(2);
    const port = stack.standin.port;
    await stack.standin.close();
    (stack as { standin: unknown }).standin = await startStandinMtls(stack.certs, port);
    const client = stack.client;
    await until(async () => (await rawUnary(client, LIST, Buffer.alloc(0), md({}))).code === 0, 10_000, 'calls working again');
    const after = await peersOf(stack, 4);
    expect(after.size).toBe(2);
    expect([...after].some((p) => before.has(p))).toBe(false);
  });
});
