#!/usr/bin/env node
// Helper for bench/run.sh (plain Node, no dependencies):
//   node bench/bench.mjs data DIR            write the ghz call-data JSON files into DIR
//   node bench/bench.mjs port PID LOGFILE    print the port from its {"msg":"listening","port":N} log line
//   node bench/bench.mjs check FILE LABEL    exit 1 unless every call in a ghz JSON report was OK
//   node bench/bench.mjs scrub IN OUT SECRETS  copy ghz JSON report IN to OUT with every line of the
//                                            file SECRETS (keys, tokens) replaced by <redacted>
//   node bench/bench.mjs report DIR          print the results tables for a bench/results/<ts> dir
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name, fallback) => process.env[name] ?? fallback;
const DIM = Number(env('BENCH_DIM', 768));
const POINTS = Number(env('BENCH_POINTS', 1000));
const BATCH = Number(env('BENCH_UPSERT_BATCH', 100));
const SEARCH_MESSAGES = Number(env('BENCH_SEARCH_MESSAGES', 64));
const COLLECTION = env('BENCH_COLLECTION', 'bench');
const CALL_NAMES = { search: 'Points/Search', upsert: 'Points/Upsert' };
// The collection and point a value_exists token points at (see run.sh, section "auth").
const USERS_COLLECTION = 'bench_users';
// Rows of the auth table, in run order; `target` is the allowed extra cost per call over no auth.
const AUTH_ROWS = [
  { row: 'none', label: 'no auth (proxy without keys)' },
  { row: 'apikey', label: 'api-key' },
  { row: 'jwt', label: 'JWT, collection rw', target: 0.05 },
  { row: 'value_exists', label: 'JWT + value_exists (warm)', target: 0.1 },
];

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'data':
    data(args[0]);
    break;
  case 'port':
    port(Number(args[0]), args[1]);
    break;
  case 'check':
    check(args[0], args[1]);
    break;
  case 'scrub':
    scrub(args[0], args[1], args[2]);
    break;
  case 'report':
    report(args[0]);
    break;
  default:
    console.error('usage: bench.mjs data DIR | port PID LOGFILE | check FILE LABEL | scrub IN OUT SECRETS | report DIR');
    process.exit(2);
}

// --- call data ------------------------------------------------------------------------------------

function data(dir) {
  // Deterministic pseudo-random numbers (mulberry32) so every run sends the same bytes.
  let seed = 0x5eed1234;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const vector = () => Array.from({ length: DIM }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4);

  const create = { collection_name: COLLECTION, vectors_config: { params: { size: DIM, distance: 'Cosine' } } };
  // Batches of BATCH points covering ids 0..POINTS-1: used once for setup and then, round-robin, by
  // the Upsert benchmark (which therefore overwrites points and keeps the collection's size fixed).
  const upserts = [];
  for (let start = 0; start < POINTS; start += BATCH) {
    const points = [];
    for (let id = start; id < Math.min(start + BATCH, POINTS); id++) {
      points.push({ id: { num: id }, vectors: { vector: { dense: { data: vector() } } }, payload: { n: { integer_value: id } } });
    }
    upserts.push({ collection_name: COLLECTION, wait: true, points });
  }
  const searches = Array.from({ length: SEARCH_MESSAGES }, () => ({ collection_name: COLLECTION, vector: vector(), limit: 10 }));

  // Auth section: the point a value_exists token needs (payload user = "alice"), and the cheap call
  // that is measured (Count on `bench`, estimated: the stand-in answers it from the map's size).
  const usersCreate = { collection_name: USERS_COLLECTION, vectors_config: { params: { size: 2, distance: 'Cosine' } } };
  const usersUpsert = {
    collection_name: USERS_COLLECTION,
    wait: true,
    points: [{ id: { num: 1 }, vectors: { vector: { dense: { data: [0.6, 0.8] } } }, payload: { user: { string_value: 'alice' } } }],
  };
  const count = { collection_name: COLLECTION, exact: false };

  writeFileSync(join(dir, 'create.json'), JSON.stringify(create));
  writeFileSync(join(dir, 'upsert.json'), JSON.stringify(upserts));
  writeFileSync(join(dir, 'search.json'), JSON.stringify(searches));
  writeFileSync(join(dir, 'users-create.json'), JSON.stringify(usersCreate));
  writeFileSync(join(dir, 'users-upsert.json'), JSON.stringify(usersUpsert));
  writeFileSync(join(dir, 'count.json'), JSON.stringify(count));
  console.log(`bench: call data: ${upserts.length} upsert batches of ${BATCH} x ${DIM}-dim points, ${searches.length} searches, count, ${USERS_COLLECTION}`);
}

// --- listening port -------------------------------------------------------------------------------

function port(pid, logFile) {
  // The process's own `{"msg":"listening",...,"port":N}` line.
  if (logFile && existsSync(logFile)) {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"listening"')) continue;
      try {
        const rec = JSON.parse(line);
        if (rec.msg === 'listening' && Number.isInteger(rec.port) && rec.port > 0) return void console.log(rec.port);
      } catch {
        /* not JSON */
      }
    }
  }
  process.exit(1);
}

// --- ghz reports ----------------------------------------------------------------------------------

function summarize(file) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const ok = r.statusCodeDistribution?.OK ?? 0;
  const seconds = r.total / 1e9;
  const pct = (p) => (r.latencyDistribution ?? []).find((d) => d.percentage === p)?.latency / 1e6;
  return {
    count: r.count,
    ok,
    errors: r.count - ok,
    seconds,
    rps: seconds > 0 ? ok / seconds : 0,
    p50: pct(50) ?? NaN,
    p99: pct(99) ?? NaN,
    errorDistribution: r.errorDistribution ?? {},
  };
}

function check(file, label) {
  const s = summarize(file);
  if (s.count > 0 && s.errors === 0) return;
  console.error(`bench: ${label}: ${s.ok}/${s.count} calls OK; errors: ${JSON.stringify(s.errorDistribution)}`);
  process.exit(1);
}

// ghz's JSON report echoes the request metadata (`options.metadata`): the api-key and Bearer tokens.
// Every secret is replaced wherever it occurs, as text, so the rest of the report stays byte for byte.
function scrub(inFile, outFile, secretsFile) {
  const secrets = readFileSync(secretsFile, 'utf8').split('\n').filter((s) => s.length >= 8);
  let text = readFileSync(inFile, 'utf8');
  for (const secret of secrets) text = text.split(secret).join('<redacted>');
  JSON.parse(text); // still a report
  if (secrets.some((s) => text.includes(s))) {
    console.error(`bench: scrub ${inFile}: a secret is still there`);
    process.exit(1);
  }
  writeFileSync(outFile, text);
}

function proxyCpuPer1k(dir, base, s) {
  const file = join(dir, `${base}.proc.json`);
  const proc = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  return {
    cpuPer1k: proc && s && s.count > 0 ? ((proc.cpu_ticks / proc.clk_tck) * 1000) / s.count : NaN,
    rssMb: proc ? proc.vm_hwm_kb / 1024 : NaN,
  };
}

function report(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const sections = meta.sections ?? ['calls'];
  const summary = { ...meta };
  const out = [
    `qdrant-auth-proxy benchmark  ${meta.date}  (${meta.cpus} CPUs, node ${meta.node}, ghz ${meta.ghz}, upstream: ${meta.upstream})`,
    `${meta.connections} connections, concurrency ${meta.concurrency}, ghz cpus ${meta.ghz_cpus ?? 'all'}`,
  ];
  if (sections.includes('calls')) out.push('', ...reportCalls(dir, meta, summary));
  if (sections.includes('auth')) out.push('', ...reportAuth(dir, meta, summary));
  out.push('', 'Read these as ratios within this run only: ghz, the stand-in upstream and the proxy share the same CPUs.');
  const text = out.join('\n');
  console.log(text);
  writeFileSync(join(dir, 'summary.txt'), text + '\n');
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

function reportCalls(dir, meta, summary) {
  const rows = [];
  const ratios = [];
  summary.results = [];
  for (const call of meta.calls) {
    const direct = summarizeIf(join(dir, `${call}-direct.json`));
    const proxy = summarizeIf(join(dir, `${call}-proxy.json`));
    const { cpuPer1k, rssMb } = proxyCpuPer1k(dir, `${call}-proxy`, proxy);
    const name = CALL_NAMES[call] ?? call;
    for (const [path, s] of [['direct', direct], ['proxy', proxy]]) {
      if (!s) continue;
      rows.push([name, path, fmt(s.rps, 1), fmt(s.p50, 2), fmt(s.p99, 2), String(s.errors), path === 'proxy' ? fmt(cpuPer1k, 3) : '', path === 'proxy' ? fmt(rssMb, 1) : '']);
      summary.results.push({ call: name, path, ...s, ...(path === 'proxy' ? { cpu_s_per_1k_calls: cpuPer1k, peak_rss_mb: rssMb } : {}) });
    }
    if (direct && proxy) {
      ratios.push([name, fmt(proxy.rps / direct.rps, 2) + 'x', signed(proxy.p50 - direct.p50), signed(proxy.p99 - direct.p99)]);
    }
  }
  return [
    `Calls: direct to the upstream vs through the proxy without keys; ${meta.duration} measured after ${meta.warmup} warm-up per row; ` +
      `search over ${meta.points} x ${meta.dim}-dim points, upsert ${meta.batch} points/call`,
    '',
    table(['call', 'path', 'calls/s', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU s/1k calls', 'proxy peak RSS MB'], rows, 2),
    '',
    table(['call', 'throughput proxy/direct', 'added p50 ms', 'added p99 ms'], ratios, 1),
  ];
}

// One auth row over all its rounds (auth-ROW-1.json, auth-ROW-2.json, ...): calls, seconds and CPU
// are summed; p50/p99 are taken over every OK call's latency (ghz's per-call `details`).
function mergeRounds(dir, row, rounds) {
  let count = 0, ok = 0, seconds = 0, ticks = 0, clk = 0, hwm = 0;
  let wallMs = 0, busy = 0, steal = 0, benchTicks = 0, ghzMs = 0;
  const latencies = [];
  const roundRps = [];
  const errorDistribution = {};
  for (let round = 1; round <= rounds; round++) {
    const file = join(dir, `auth-${row}-${round}.json`);
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const rOk = r.statusCodeDistribution?.OK ?? 0;
    count += r.count;
    ok += rOk;
    seconds += r.total / 1e9;
    roundRps.push(r.total > 0 ? rOk / (r.total / 1e9) : 0);
    for (const d of r.details ?? []) if (d.status === 'OK') latencies.push(d.latency / 1e6);
    for (const [k, v] of Object.entries(r.errorDistribution ?? {})) errorDistribution[k] = (errorDistribution[k] ?? 0) + v;
    const procFile = join(dir, `auth-${row}-${round}.proc.json`);
    if (existsSync(procFile)) {
      const p = JSON.parse(readFileSync(procFile, 'utf8'));
      ticks += p.cpu_ticks;
      clk = p.clk_tck;
      hwm = Math.max(hwm, p.vm_hwm_kb);
      wallMs += p.wall_ms ?? 0;
      busy += p.machine_busy_ticks ?? 0;
      steal += p.machine_steal_ticks ?? 0;
      benchTicks += p.bench_procs_ticks ?? 0;
      ghzMs += p.ghz_cpu_ms ?? 0;
    }
  }
  if (roundRps.length === 0) return { s: null, cpuPer1k: NaN, rssMb: NaN };
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : NaN);
  const s = {
    rounds: roundRps.length,
    count,
    ok,
    errors: count - ok,
    seconds,
    rps: seconds > 0 ? ok / seconds : 0,
    roundRps,
    p50: pct(50),
    p99: pct(99),
    errorDistribution,
  };
  const wallS = wallMs / 1000;
  const machine =
    clk && wallS > 0
      ? {
          busyCores: busy / clk / wallS,
          ghzCores: ghzMs / 1000 / wallS,
          benchCores: benchTicks / clk / wallS,
          otherCores: (busy - benchTicks - (ghzMs / 1000) * clk) / clk / wallS,
          stealCores: steal / clk / wallS,
        }
      : null;
  return { s, cpuPer1k: clk && count > 0 ? ((ticks / clk) * 1000) / count : NaN, rssMb: hwm / 1024, machine };
}

function reportAuth(dir, meta, summary) {
  const measured = AUTH_ROWS.map((r) => ({ ...r, ...mergeRounds(dir, r.row, meta.auth_rounds ?? 1) }));
  const base = measured.find((m) => m.row === 'none' && m.s);
  const b = base?.s;
  const pct = (x) => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + (x * 100).toFixed(1) + '%' : '-');
  const cores = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const figures = [];
  const targets = [];
  summary.auth = [];
  for (const m of measured) {
    if (!m.s) continue;
    const isBase = m === base;
    const ratio = b ? m.s.rps / b.rps : NaN;
    const cost = b ? b.rps / m.s.rps - 1 : NaN; // extra time per call (1 / throughput)
    const cpu = b ? m.cpuPer1k / base.cpuPer1k - 1 : NaN; // extra proxy CPU per call
    const p50 = b ? m.s.p50 - b.p50 : NaN;
    const p99 = b ? m.s.p99 - b.p99 : NaN;
    const lo = Math.min(...m.s.roundRps);
    const hi = Math.max(...m.s.roundRps);
    figures.push([
      m.label,
      fmt(m.s.rps, 1),
      isBase ? '1.00x' : fmt(ratio, 3) + 'x',
      fmt(m.s.p50, 2),
      fmt(m.s.p99, 2),
      isBase ? '' : signed(p50),
      isBase ? '' : signed(p99),
      String(m.s.errors),
      fmt(m.cpuPer1k, 3),
      `${fmt(lo, 0)}-${fmt(hi, 0)}`,
      cores(m.machine?.otherCores),
      cores(m.machine?.stealCores),
    ]);
    if (!isBase) {
      const met = (x) => (m.target === undefined ? '' : Number.isFinite(x) && x <= m.target ? 'yes' : 'NO');
      targets.push([m.label, pct(cost), met(cost), pct(cpu), met(cpu), m.target === undefined ? '(none)' : `at most +${m.target * 100}%`]);
    }
    summary.auth.push({
      row: m.row,
      credential: m.label,
      call: meta.auth_call,
      ...m.s,
      cpu_s_per_1k_calls: m.cpuPer1k,
      peak_rss_mb: m.rssMb,
      throughput_vs_no_auth: ratio,
      cost_per_call_vs_no_auth: cost,
      added_p50_ms: p50,
      added_p99_ms: p99,
      proxy_cpu_per_call_vs_no_auth: cpu,
      machine_cores: m.machine,
      ...(m.target === undefined ? {} : { target_max_extra_cost: m.target }),
    });
  }
  // How far apart a row's own rounds are: differences between rows smaller than this are noise.
  const spreads = measured.filter((m) => m.s?.rounds > 1).map((m) => (Math.max(...m.s.roundRps) - Math.min(...m.s.roundRps)) / m.s.rps);
  const maxSpread = spreads.length ? Math.max(...spreads) : NaN;
  const others = measured.map((m) => m.machine?.otherCores).filter(Number.isFinite);
  const maxOther = others.length ? Math.max(...others) : NaN;
  summary.auth_noise = { max_round_spread: maxSpread, max_other_cores: maxOther };
  const lines = [
    `Authorization: ${meta.auth_call} ${JSON.stringify(meta.auth_call_data)}; per row ${meta.auth_rounds} interleaved rounds of ${meta.auth_duration} ` +
      `after one ${meta.auth_warmup} warm-up; value_exists cache TTL ${meta.value_exists_cache_ttl_seconds} s`,
    `"no auth" goes through the proxy without keys, the other rows through a second proxy (api_key from the environment, jwt_rbac: true), same upstream`,
    '',
    table(
      ['credential', 'calls/s', 'vs no-auth', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'errors', 'proxy CPU s/1k calls', 'rounds calls/s', 'other load cores', 'steal cores'],
      figures,
      1,
    ),
    ...measured.filter((m) => m.s?.errors > 0).map((m) => `errors, ${m.label}: ${JSON.stringify(m.s.errorDistribution)}`),
    '',
    table(['vs no auth', 'cost/call', 'met?', 'proxy CPU/call', 'met?', 'target (reported, not asserted)'], targets, 1),
    '',
    'cost/call = no-auth calls/s / row calls/s - 1 (extra time per call); proxy CPU/call = extra proxy CPU per call over no-auth.',
    'Targets: a JWT call costs at most 5% more than no auth, a warm value_exists call at most 10% more.',
    `Noise: a row's rounds differ by up to ${pct(maxSpread).replace('+', '')} in calls/s; other processes on the machine used up to ${cores(maxOther)} cores ` +
      `(busy CPU minus ghz, upstream and proxies, averaged per row).`,
  ];
  if (maxSpread > 0.05 || maxOther > 0.1) {
    lines.push('WARNING: the machine was not quiet enough for a 5% comparison; repeat on an idle machine or with more rounds (BENCH_AUTH_ROUNDS).');
  }
  return lines;
}


function summarizeIf(file) {
  return existsSync(file) ? summarize(file) : null;
}

function fmt(n, digits) {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function signed(n) {
  return Number.isFinite(n) ? (n >= 0 ? '+' : '') + n.toFixed(2) : '-';
}

function table(header, rows, leftColumns) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
