// upstream.keepalive_*: a connection to the upstream that silently stops carrying bytes (a half-open
// TCP connection: a dead node, a dropped NAT entry) is found by its unanswered ping and replaced,
// for both transports, so calls do not keep going into the void.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Standin } from '../../src/standin/standin-server.js';
import { testCerts } from '../helpers/certs.js';
import { startStandinMtls, upstreamConfig } from '../helpers/proxy-stack.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { type RunningProxy, startProxy } from '../helpers/start-proxy.js';

/** A TCP relay to `port` that can freeze its current connections (no byte passes either way after). */
function relay(port: number): Promise<{ server: Server; port: number; connections: () => number; freeze: () => void }> {
  const live: { frozen: boolean; sockets: Socket[] }[] = [];
  let count = 0;
  const server = createServer((client) => {
    count++;
    const state = { frozen: false, sockets: [client] };
    const upstream = connect(port, '127.0.0.1');
    state.sockets.push(upstream);
    live.push(state);
    client.on('data', (d) => state.frozen || upstream.write(d));
    upstream.on('data', (d) => state.frozen || client.write(d));
    for (const s of state.sockets) {
      s.on('error', () => undefined).on('close', () => {
        for (const o of state.sockets) o.destroy();
      });
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as { port: number }).port,
        connections: () => count,
        freeze: () => {
          for (const c of live) c.frozen = true;
        },
      }),
    ),
  );
}

describe('upstream keepalive', () => {
  let proxy: RunningProxy | null = null;
  let standin: Standin | null = null;
  let server: Server | null = null;
  afterEach(async () => {
    await proxy?.stop();
    await standin?.close();
    server?.close();
  });

  for (const transport of ['http2', 'grpc-js'] as const) {
    it(`${transport}: a frozen upstream connection is dropped after an unanswered ping, and calls go over a new one`, async () => {
      const certs = testCerts();
      standin = await startStandinMtls(certs);
      const hop = await relay(standin.port);
      server = hop.server;
      proxy = await startProxy({
        upstream: { ...upstreamConfig(certs, hop.port), transport, keepalive_time_ms: 1000, keepalive_timeout_ms: 300, health_check_interval_ms: 60_000 },
      });
      const client = rawClient(proxy.address);
      const list = () => rawUnary(client, '/qdrant.Collections/List', Buffer.alloc(0), md({}), { deadline: Date.now() + 1000 });
      expect((await list()).code).toBe(0);
      expect(hop.connections()).toBe(1);

      hop.freeze();
      const started = Date.now();
      let outcome = await list();
      while (outcome.code !== 0 && Date.now() - started < 8000) outcome = await list();
      expect(outcome.code).toBe(0);
      expect(hop.connections()).toBeGreaterThanOrEqual(2);
      client.close();
    });
  }
});
