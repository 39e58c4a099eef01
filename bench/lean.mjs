#!/usr/bin/env node
// The bench's "lean" rows (section `lean` of bench/run.sh): the hop alone. A minimal node:http2
// upstream (bench/lean-upstream.mjs: fixed replies, plaintext h2c) and a light load generator
// (h2load, pinned to one core: 8 connections x 16 streams) leave the CPU to the hop being measured,
// which the ghz rows cannot (ghz and the stand-in take most of the 2 cores there).
//
//   node bench/lean.mjs OUT_DIR TMP_DIR     writes OUT_DIR/lean.json, lean.md, lean-targets.json
//
// Rows: direct (h2load -> upstream), nginx (grpc_pass grpc://, no auth), proxy (no keys), jwt (a
// Qdrant-style HS256 token, collection rw), jwt_workers (the same with `workers: LEAN_WORKERS`).
// Calls: Points/Search (768-dim vector, 3 KB) and Points/Count. Full load: LEAN_ROUNDS interleaved
// rounds of LEAN_DURATION s per row after one warm-up run; then a fixed rate of half the jwt row's
// full-load calls/s (the p99 the hop adds); then the jwt proxy's RSS after the load, until it falls.
// RSS idle: before any call, once V8 has given start-up's memory back.
// Every row's successes are checked against the calls the upstream answered: a gRPC refusal is an
// HTTP 200 to h2load. Environment: LEAN_ROUNDS [3], LEAN_DURATION [5], LEAN_WARMUP [2], LEAN_WORKERS
// [2], LEAN_LOADGEN_CPU [0], LEAN_NGINX (nginx binary; no nginx row without it), LEAN_NGINX_SKIP
// (why not), LEAN_NGINX_USER (the `user` line for a root nginx), H2LOAD [h2load].
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTIONS, CPU, PINNED, h2load as runH2load, STREAMS, grpcStatus as sharedGrpcStatus } from './h2load.mjs';
import { REQUESTS } from './lean-messages.mjs';

const [outDir, tmpDir] = process.argv.slice(2);
if (!outDir || !tmpDir) {
  console.error('usage: node bench/lean.mjs OUT_DIR TMP_DIR');
  process.exit(2);
}
const env = (name, fallback) => process.env[name] || fallback;
const ROUNDS = Number(env('LEAN_ROUNDS', 3));
const DURATION = Number(env('LEAN_DURATION', 5));
const WARMUP = Number(env('LEAN_WARMUP', 2));
const WORKERS = Number(env('LEAN_WORKERS', 2));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const API_KEY = `lean-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const log = (msg) => console.error(`bench lean: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TARGETS = { jwtVsNginx: 1.0, cpuMsPerCall: 0.15, addedP99Ms: 1, peakRssMiB: 120, idleRssMiB: 80 };

const CALLS = {
  search: {
    path: '/qdrant.Points/Search',
    label: '`Points/Search` (768-dim vector, 3 KB request; 10 hits back)',
    body: REQUESTS.search,
  },
  count: {
    path: '/qdrant.Points/Count',
    label: '`Points/Count` (13-byte request)',
    body: REQUESTS.count,
  },
};
for (const [name, call] of Object.entries(CALLS)) writeFileSync(join(tmpDir, `lean-${name}.bin`), call.body);

// --- processes ------------------------------------------------------------------------------------
const children = [];
const stopAll = () => {
  for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
};
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

/** Starts a process and resolves its port from its `{"msg":"listening","port":N}` line on stdout. */
function start(name, cmd, args, extraEnv = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start listening within 30 s:\n${output}`)), 30_000);
    const onData = (d) => {
      output += d;
      for (const line of output.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const rec = JSON.parse(line);
          if (rec.msg === 'listening' && rec.port > 0) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            child.stdout.resume();
            resolve({ child, port: rec.port });
            return;
          }
        } catch {
          /* not JSON */
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) during start-up:\n${output}`)));
  });
}

const stat = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(') ') + 2).split(' ');
};
const descendants = (pid) => {
  const kids = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (stat(p)[1] === String(pid)) kids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return kids.flatMap((k) => [k, ...descendants(k)]);
};
const cpuTicks = (pids) => pids.reduce((t, p) => t + Number(stat(p)[11]) + Number(stat(p)[12]), 0);
const statusKb = (pid, key) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1] ?? 0);
const sumKb = (pids, key) => pids.reduce((t, p) => t + statusKb(p, key), 0);
const resetPeak = (pids) => {
  for (const p of pids) writeFileSync(`/proc/${p}/clear_refs`, '5');
};

function served(port) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'GET', ':path': '/served' });
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      session.close();
      resolve(Number(body));
    });
    req.end();
  });
}

// --- h2load (bench/h2load.mjs) -------------------------------------------------------------------
const grpcStatus = (port, call, headers) => sharedGrpcStatus(port, call.path, call.body, headers);
const h2load = (port, call, headers, seconds, rps) =>
  runH2load({ port, path: CALLS[call].path, bodyFile: join(tmpDir, `lean-${call}.bin`), headers, seconds, rps, logFile: join(tmpDir, 'lean-h2load.log') });

// --- the run --------------------------------------------------------------------------------------
const upstream = await start('lean upstream', process.execPath, ['bench/lean-upstream.mjs']);
log(`lean upstream pid ${upstream.child.pid} on 127.0.0.1:${upstream.port}`);
const rows = { direct: { label: 'direct to the lean upstream', port: upstream.port, pids: () => [], headers: {} } };

const nginxBin = env('LEAN_NGINX', '');
const nginxSkip = env('LEAN_NGINX_SKIP', nginxBin ? '' : 'no nginx (LEAN_NGINX unset)');
if (nginxBin && !nginxSkip) {
  // The record's nginx config, pointed at the lean upstream in plaintext (as the proxies are here).
  // Its own directory, readable by nginx's worker user (TMP_DIR is private to the bench).
  const dir = mkdtempSync(join(tmpdir(), 'qap-lean-nginx-'));
  chmodSync(dir, 0o755);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const port = await new Promise((r) => {
    const s = http2.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
  const conf = readFileSync('bench/nginx.conf.template', 'utf8')
    .replace('@USER_LINE@', env('LEAN_NGINX_USER', ''))
    .replaceAll('@PREFIX@', dir)
    .replaceAll('@UPSTREAM_PORT@', String(upstream.port))
    .replaceAll('@LISTEN_PORT@', String(port))
    .replace('grpc_pass grpcs://qdrant;', 'grpc_pass grpc://qdrant;')
    .replace(/^\s*grpc_ssl_.*$\n/gm, '');
  const directives = conf.split('\n').map((line) => line.replace(/#.*/, ''));
  if (directives.some((line) => /grpcs:|grpc_ssl|@[A-Z_]+@/.test(line)))
    throw new Error('bench/nginx.conf.template changed: the lean rewrite (grpc_pass grpc://, no grpc_ssl_*) no longer applies');
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const master = spawn(nginxBin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  children.push(master);
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = (await grpcStatus(port, CALLS.count, {}).catch(() => null)) === '0';
    if (!up) await sleep(100);
  }
  if (!up) {
    const errors = spawnSync('tail', ['-n', '20', join(dir, 'error.log')]).stdout?.toString() ?? '';
    throw new Error(`nginx did not answer within 10 s:\n${errors}`);
  }
  rows.nginx = { label: 'nginx grpc_pass, no auth', port, pids: () => descendants(master.pid), headers: {} };
  log(`nginx pid ${master.pid} on 127.0.0.1:${port}`);
}
const proxyConfig = (name, service, extra = '') => {
  const file = join(tmpDir, `lean-proxy-${name}.yaml`);
  writeFileSync(
    file,
    `log_level: INFO\n${extra}service: { host: 127.0.0.1, grpc_port: 0${service} }\nupstream: { url: "http://127.0.0.1:${upstream.port}" }\nmetrics: { enabled: false }\n`,
  );
  return file;
};
const proxyRow = async (name, label, service, extra, headers) => {
  // The key reaches the proxy through the environment only (never a file under the results).
  const p = await start(
    `proxy ${name}`,
    process.execPath,
    ['dist/cli/main.js', 'serve', '--config', proxyConfig(name, service, extra)],
    service ? { QDRANT__SERVICE__API_KEY: API_KEY } : {},
  );
  rows[name] = { label, port: p.port, pids: () => [p.child.pid, ...descendants(p.child.pid)], headers };
  rows[name].idleRssMiB = sumKb(rows[name].pids(), 'VmRSS') / 1024;
  log(`proxy ${name} pid ${p.child.pid} on 127.0.0.1:${p.port}, ${rows[name].idleRssMiB.toFixed(0)} MiB after start-up`);
};
const token = execFileSync(process.execPath, ['dist/cli/main.js', 'token', '--access', '[{"collection":"bench","access":"rw"}]'], {
  env: { ...process.env, QDRANT__SERVICE__API_KEY: API_KEY },
})
  .toString()
  .trim();
// run.sh checks that nothing under the results holds a line of TMP_DIR/secrets. h2load takes
// headers on its command line only: the token is visible in the process list while it runs (a
// token minted for this run, with a key that exists only for it).
appendFileSync(join(tmpDir, 'secrets'), `${API_KEY}\n${token}\n`);
const bearer = { authorization: `Bearer ${token}` };
await proxyRow('proxy', 'proxy, no auth', '', '', {});
await proxyRow('jwt', 'proxy, JWT (collection rw)', ', jwt_rbac: true', '', bearer);
if (WORKERS > 1) await proxyRow('jwt_workers', `proxy, JWT, \`workers: ${WORKERS}\``, ', jwt_rbac: true', `workers: ${WORKERS}\n`, bearer);
// Idle: the proxies' RSS once V8's memory reducer has given back what start-up used (it shrinks the
// young generation some seconds after allocation stops), at most 60 s after start-up.
{
  const proxies = Object.values(rows).filter((r) => r.idleRssMiB);
  const started = performance.now();
  const settled = () => proxies.every((r) => sumKb(r.pids(), 'VmRSS') / 1024 <= r.idleRssMiB - 5);
  while (!settled() && performance.now() - started < 60_000) await sleep(1000);
  for (const r of proxies) r.settledRssMiB = sumKb(r.pids(), 'VmRSS') / 1024;
  log(`idle RSS after ${Math.round((performance.now() - started) / 1000)} s: ${proxies.map((r) => `${r.label} ${r.settledRssMiB.toFixed(0)} MiB`).join(', ')}`);
}
for (const [name, row] of Object.entries(rows)) {
  for (const call of Object.keys(CALLS)) {
    const status = await grpcStatus(row.port, CALLS[call], row.headers);
    if (status !== '0') throw new Error(`${name} answered ${CALLS[call].path} with grpc-status ${status}`);
  }
}

/** One measured run of ROW: h2load's figures, the CPU of the row's servers and the upstream, peak RSS. */
async function measure(name, call, seconds, rps) {
  const row = rows[name];
  const pids = row.pids();
  resetPeak(pids);
  const [cpu0, up0, served0] = [cpuTicks(pids), cpuTicks([upstream.child.pid]), await served(upstream.port)];
  const r = await h2load(row.port, call, row.headers, seconds, rps);
  const [cpu1, up1, served1] = [cpuTicks(pids), cpuTicks([upstream.child.pid]), await served(upstream.port)];
  const answered = served1 - served0;
  // Two-sided: a refusal counted as a success by h2load shows as fewer answered calls; calls still
  // in flight when a timed run ends (this one's, and the run's before) reach the upstream without
  // being counted by h2load: at most 128 each.
  if (r.failed || answered < r.succeeded || answered > r.succeeded + 2 * CONNECTIONS * STREAMS)
    throw new Error(`${name} ${call}: ${r.succeeded} calls succeeded for h2load, ${r.failed} failed, ${answered} reached the upstream`);
  const ms = (ticks) => (ticks * 1000) / CLK_TCK / r.succeeded;
  return {
    ...r,
    cpuMsPerCall: pids.length ? ms(cpu1 - cpu0) : null,
    upstreamCpuMsPerCall: ms(up1 - up0),
    peakRssMiB: pids.length ? sumKb(pids, 'VmHWM') / 1024 : null,
  };
}

const result = {
  rounds: ROUNDS,
  duration_s: DURATION,
  connections: CONNECTIONS,
  streams: STREAMS,
  loadgen_cpu: PINNED ? CPU : 'not pinned (no taskset)',
  workers: WORKERS,
  nginx_skipped: nginxSkip || null,
  rows: {},
  calls: {},
};
for (const [name, row] of Object.entries(rows))
  result.rows[name] = { label: row.label, start_rss_mib: row.idleRssMiB ?? null, idle_rss_mib: row.settledRssMiB ?? null };
const names = Object.keys(rows);
for (const call of Object.keys(CALLS)) {
  const full = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) {
    log(`${call} via ${name}: warm-up ${WARMUP} s`);
    await h2load(rows[name].port, call, rows[name].headers, WARMUP, 0);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      log(`${call} via ${name}: full load ${DURATION} s (round ${round + 1}/${ROUNDS})`);
      full[name].push(await measure(name, call, DURATION, 0));
    }
  }
  const jwtRps = full.jwt.reduce((t, m) => t + m.rps, 0) / ROUNDS;
  const rate = Math.round(jwtRps / 2);
  const atRate = {};
  for (const name of names.filter((n) => n !== 'jwt_workers')) {
    log(`${call} via ${name}: ${rate} calls/s for ${DURATION * 2} s`);
    atRate[name] = await measure(name, call, DURATION * 2, rate);
  }
  result.calls[call] = { full, rate, at_rate: atRate };
}
// Memory after the load: the jwt proxy's RSS when the load ended, and when it has fallen back
// (V8's memory reducer runs some seconds after the last allocation; at most 90 s are waited for).
{
  const pids = rows.jwt.pids();
  const endMiB = sumKb(pids, 'VmRSS') / 1024;
  const started = performance.now();
  let nowMiB = endMiB;
  while (performance.now() - started < 90_000 && nowMiB > rows.jwt.settledRssMiB * 1.1) {
    await sleep(1000);
    nowMiB = sumKb(pids, 'VmRSS') / 1024;
  }
  result.after_load = { end_mib: endMiB, later_mib: nowMiB, after_s: Math.round((performance.now() - started) / 1000) };
}
writeFileSync(join(outDir, 'lean.json'), `${JSON.stringify(result, null, 1)}\n`);

// --- the report -----------------------------------------------------------------------------------
const mean = (xs) => xs.reduce((t, x) => t + x, 0) / xs.length;
const f = (n, d = 2) => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(d));
const range = (xs, d) => (xs.some((x) => x === null) ? '-' : `${f(Math.min(...xs), d)}-${f(Math.max(...xs), d)}`);
const md = [];
const targets = [];
const yes = (ok) => (ok ? 'yes' : '**NO**');
md.push(
  `Upstream: bench/lean-upstream.mjs (node:http2, fixed replies), plaintext on both sides of every hop. Load: h2load ${CONNECTIONS} connections x ${STREAMS} streams, ` +
    `${PINNED ? `pinned to CPU ${CPU}` : 'not pinned (no taskset)'}; ${ROUNDS} interleaved rounds of ${DURATION} s per row after a ${WARMUP} s warm-up. ` +
    `Every success was checked against the calls the upstream answered.${nginxSkip ? ` **nginx row skipped**: ${nginxSkip}.` : ''}`,
  '',
  `RSS just after start-up, and idle once V8 has given start-up's memory back: ${names
    .filter((n) => rows[n].idleRssMiB)
    .map((n) => `${n} ${f(rows[n].idleRssMiB, 0)} -> ${f(rows[n].settledRssMiB, 0)} MiB`)
    .join(', ')}. ` +
    `The jwt proxy when the load ended: ${f(result.after_load.end_mib, 0)} MiB; ${result.after_load.after_s} s later ${f(result.after_load.later_mib, 0)} MiB.`,
);
for (const [call, c] of Object.entries(result.calls)) {
  const nginx = c.full.nginx ? mean(c.full.nginx.map((m) => m.rps)) : null;
  md.push('', `#### ${CALLS[call].label}: full load`, '');
  md.push(
    '| path | calls/s | vs nginx | CPU ms/call (mean) | CPU ms/call by round | upstream CPU ms/call | p50 ms | p99 ms | peak RSS MiB | calls/s by round |',
  );
  md.push('|---|---:|---:|---:|---|---:|---:|---:|---:|---|');
  for (const name of names) {
    const ms = c.full[name];
    const rps = mean(ms.map((m) => m.rps));
    const cpu = ms[0].cpuMsPerCall === null ? null : mean(ms.map((m) => m.cpuMsPerCall));
    md.push(
      `| ${rows[name].label} | ${f(rps, 0)} | ${nginx ? `${f(rps / nginx)}x` : '-'} | ${f(cpu, 3)} | ${range(
        ms.map((m) => m.cpuMsPerCall),
        3,
      )} | ${f(mean(ms.map((m) => m.upstreamCpuMsPerCall)), 3)} | ` +
        `${f(mean(ms.map((m) => m.p50)))} | ${f(mean(ms.map((m) => m.p99)))} | ${ms[0].peakRssMiB === null ? '-' : f(Math.max(...ms.map((m) => m.peakRssMiB)), 0)} | ${ms.map((m) => f(m.rps, 0)).join(', ')} |`,
    );
    if (name.startsWith('jwt') && nginx)
      targets.push([
        `proxy with JWT >= ${TARGETS.jwtVsNginx}x nginx's calls/s (lean)`,
        `${call}, ${rows[name].label}`,
        `${f(rps / nginx)}x (${f(rps, 0)} vs ${f(nginx, 0)})`,
        yes(rps / nginx >= TARGETS.jwtVsNginx),
      ]);
    if (name.startsWith('jwt'))
      targets.push([
        `<= ${TARGETS.cpuMsPerCall} proxy CPU ms per call with JWT (lean, every round)`,
        `${call}, ${rows[name].label}`,
        `${f(cpu, 3)} (rounds ${range(
          ms.map((m) => m.cpuMsPerCall),
          3,
        )}; nginx ${c.full.nginx ? f(mean(c.full.nginx.map((m) => m.cpuMsPerCall)), 3) : '-'})`,
        yes(Math.max(...ms.map((m) => m.cpuMsPerCall)) <= TARGETS.cpuMsPerCall),
      ]);
    if (rows[name].idleRssMiB) {
      const peak = Math.max(...ms.map((m) => m.peakRssMiB));
      targets.push([
        `proxy peak RSS <= ${TARGETS.peakRssMiB} MiB at full load (lean)`,
        `${call}, ${rows[name].label}`,
        `${f(peak, 0)} MiB`,
        yes(peak <= TARGETS.peakRssMiB),
      ]);
    }
  }
  const d = c.at_rate.direct;
  md.push('', `#### ${CALLS[call].label}: fixed rate ${c.rate} calls/s (half the jwt row's full-load rate)`, '');
  md.push('| path | calls/s | p50 ms | p99 ms | added p50 vs direct | added p99 vs direct | CPU ms/call | peak RSS MiB |');
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, m] of Object.entries(c.at_rate)) {
    md.push(
      `| ${rows[name].label} | ${f(m.rps, 0)} | ${f(m.p50)} | ${f(m.p99)} | ${name === 'direct' ? '' : `+${f(m.p50 - d.p50)}`} | ${name === 'direct' ? '' : `+${f(m.p99 - d.p99)}`} | ${f(m.cpuMsPerCall, 3)} | ${f(m.peakRssMiB, 0)} |`,
    );
    if (name === 'jwt' || name === 'proxy')
      targets.push([
        `p99 added over direct <= ${TARGETS.addedP99Ms} ms at half the jwt row's max (lean)`,
        `${call} @ ${c.rate}/s, ${rows[name].label}`,
        `+${f(m.p99 - d.p99)} ms (${f(m.p99)} vs ${f(d.p99)})`,
        yes(m.p99 - d.p99 <= TARGETS.addedP99Ms),
      ]);
  }
}
for (const name of ['proxy', 'jwt'])
  targets.push([
    `proxy RSS idle <= ${TARGETS.idleRssMiB} MiB (lean)`,
    `${rows[name].label}, before any call`,
    `${f(rows[name].settledRssMiB, 0)} MiB (${f(rows[name].idleRssMiB, 0)} just after start-up)`,
    yes(rows[name].settledRssMiB <= TARGETS.idleRssMiB),
  ]);
targets.push([
  'memory returned after load (lean)',
  `${rows.jwt.label}: RSS when the load ended, and when it stopped falling`,
  `${f(result.after_load.end_mib, 0)} -> ${f(result.after_load.later_mib, 0)} MiB in ${result.after_load.after_s} s (idle before the load ${f(rows.jwt.settledRssMiB, 0)})`,
  yes(result.after_load.later_mib <= rows.jwt.settledRssMiB * 1.1),
]);
writeFileSync(join(outDir, 'lean.md'), `${md.join('\n')}\n`);
writeFileSync(join(outDir, 'lean-targets.json'), `${JSON.stringify(targets)}\n`);
console.log(md.join('\n'));
process.exit(0);
