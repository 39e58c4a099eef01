#!/usr/bin/env node
// Helper for bench/run.sh (plain Node, no dependencies):
//   node bench/bench.mjs data DIR            write the ghz call-data JSON files into DIR
//   node bench/bench.mjs port PID LOGFILE    print the port from its {"msg":"listening","port":N} log line
//   node bench/bench.mjs check FILE LABEL    exit 1 unless every call in a ghz JSON report was OK
//   node bench/bench.mjs scrub IN OUT SECRETS  copy ghz JSON report IN to OUT with every line of the
//                                            file SECRETS (keys, tokens) replaced by <redacted>
//   node bench/bench.mjs maxrate DIR TABLE ROW FRACTION  print FRACTION x ROW's calls/s in TABLE
//   node bench/bench.mjs runjson FILE        write run.json from the BM_* environment variables
//   node bench/bench.mjs report DIR          print the tables of a bench/results/<ts> dir and write
//                                            summary.txt, summary.md and summary.json there
//   node bench/bench.mjs record DIR FILE     replace the generated part of FILE (BENCHMARKS.md) by
//                                            DIR/summary.md, keeping everything else (the Notes)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name, fallback) => process.env[name] ?? fallback;
const DIM = Number(env('BENCH_DIM', 768));
const POINTS = Number(env('BENCH_POINTS', 1000));
const BATCH = Number(env('BENCH_UPSERT_BATCH', 100));
const SEARCH_MESSAGES = Number(env('BENCH_SEARCH_MESSAGES', 64));
const COLLECTION = env('BENCH_COLLECTION', 'bench');
// The collection and point a value_exists token points at (see run.sh).
const USERS_COLLECTION = 'bench_users';

// The paths a call can take (run.sh has the same names). `serves`: whose CPU and memory the row's
// "CPU s/1k calls" and "peak RSS" columns show.
const ROWS = {
  direct: { label: 'direct to the upstream (mTLS)', serves: null },
  nginx: { label: 'nginx grpc_pass, no auth', serves: 'nginx' },
  proxy: { label: 'proxy, no auth, transport http2', serves: 'proxy' },
  grpcjs: { label: 'proxy, no auth, transport grpc-js', serves: 'proxy' },
  pool: { label: 'proxy, no auth, http2, 4 upstream connections', serves: 'proxy' },
  apikey: { label: 'proxy, api-key', serves: 'proxy' },
  jwt: { label: 'proxy, JWT (collection rw)', serves: 'proxy' },
  value_exists: { label: 'proxy, JWT + value_exists (warm)', serves: 'proxy' },
  rs256: { label: 'proxy, IdP token RS256 (collection rw)', serves: 'proxy' },
  es256: { label: 'proxy, IdP token ES256 (collection rw)', serves: 'proxy' },
  namedkey: { label: 'proxy, named key (one of 10,000)', serves: 'proxy' },
  tenant: { label: 'proxy, JWT (collection rw, tenant-bound)', serves: 'proxy' },
  limits_off: { label: 'proxy, api-key, no rate limits (twin)', serves: 'proxy' },
  limits: { label: 'proxy, api-key, rate limits (local)', serves: 'proxy' },
  limits_redis: { label: 'proxy, api-key, rate limits (Redis)', serves: 'proxy' },
  tls: { label: 'proxy, no auth, TLS listener', serves: 'proxy' },
  mtls: { label: 'proxy, no auth, mutual-TLS listener', serves: 'proxy' },
};
const rowLabel = (table, row) => (row === 'jwt' && table === 'calls-list' ? 'proxy, JWT (collection bench): reply filtered' : (ROWS[row]?.label ?? row));

const COUNT_CALL_TEXT = 'Points/Count';

// Targets of the record (printed, not asserted: the exit status does not depend on them).
const TARGETS = {
  jwtVsNginx: 0.8, // proxy with JWT auth: at least 0.8x nginx's calls/s at full load
  addedP99Ms: 1, // at the fixed rate (half the proxy's max): p99 at most 1 ms over direct
  cpuPer1k: 0.15, // proxy CPU seconds per 1000 calls
  rssMb: 120, // proxy peak RSS under full load (MiB: VmHWM / 1024)
  authCost: { jwt: 0.05, value_exists: 0.1 }, // extra time per call over no auth (count table)
  providerVsHs256Cpu: 0.05, // an identity provider token: at most 5% more proxy CPU per call than HS256 (count table)
  namedKeyVsApiKeyCpu: 0.05, // a named key among 10,000: at most 5% more proxy CPU per call than service.api_key (count table)
  limitsVsApiKeyCpu: 0.05, // local rate limits: at most 5% more proxy CPU per call than the same calls without (count table)
  tenantVsJwtCpu: 0.1, // a tenant-bound token: at most 10% more proxy CPU per call than a plain collection token (Search, Query)
};

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
      // Every point is tenant `bench`'s: the tenant row's filter matches them all, as the jwt row's no filter does.
      points.push({
        id: { num: id },
        vectors: { vector: { dense: { data: vector() } } },
        payload: { n: { integer_value: id }, tenant: { string_value: 'bench' } },
      });
    }
    upserts.push({ collection_name: COLLECTION, wait: true, points });
  }
  const searches = Array.from({ length: SEARCH_MESSAGES }, () => ({ collection_name: COLLECTION, vector: vector(), limit: 10 }));
  const queries = Array.from({ length: SEARCH_MESSAGES }, () => ({
    collection_name: COLLECTION,
    query: { nearest: { dense: { data: vector() } } },
    limit: 10,
  }));

  // The point a value_exists token needs (payload user = "alice"); the cheap call (Count on `bench`,
  // estimated: the stand-in answers it from the map's size); List (no fields).
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
  writeFileSync(join(dir, 'query.json'), JSON.stringify(queries));
  writeFileSync(join(dir, 'users-create.json'), JSON.stringify(usersCreate));
  writeFileSync(join(dir, 'users-upsert.json'), JSON.stringify(usersUpsert));
  writeFileSync(join(dir, 'count.json'), JSON.stringify(count));
  writeFileSync(join(dir, 'list.json'), JSON.stringify({}));
  console.log(
    `bench: call data: ${upserts.length} upsert batches of ${BATCH} x ${DIM}-dim points, ${searches.length} searches, count, list, ${USERS_COLLECTION}`,
  );
}

// --- listening port -------------------------------------------------------------------------------

function port(_pid, logFile) {
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

function check(file, label) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const ok = r.statusCodeDistribution?.OK ?? 0;
  if (r.count > 0 && ok === r.count) return;
  console.error(`bench: ${label}: ${ok}/${r.count} calls OK; errors: ${JSON.stringify(r.errorDistribution ?? {})}`);
  process.exit(1);
}

// ghz's JSON report echoes the request metadata (`options.metadata`): the api-key and Bearer tokens.
// Every secret is replaced wherever it occurs, as text, so the rest of the report stays byte for byte.
function scrub(inFile, outFile, secretsFile) {
  const secrets = existsSync(secretsFile)
    ? readFileSync(secretsFile, 'utf8')
        .split('\n')
        .filter((s) => s.length >= 8)
    : [];
  let text = readFileSync(inFile, 'utf8');
  for (const secret of secrets) text = text.split(secret).join('<redacted>');
  JSON.parse(text); // still a report
  if (secrets.some((s) => text.includes(s))) {
    console.error(`bench: scrub ${inFile}: a secret is still there`);
    process.exit(1);
  }
  writeFileSync(outFile, text);
}

// --- merging a row's rounds -----------------------------------------------------------------------

function readTables(dir) {
  const file = join(dir, 'tables.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

// One row of a table over all its rounds (TABLE-ROW-1.json, TABLE-ROW-2.json, ...): calls, seconds
// and CPU are summed; percentiles are taken over every OK call's latency (ghz's per-call `details`).
function mergeRow(dir, table, row, rounds) {
  let count = 0,
    ok = 0,
    seconds = 0,
    ticks = 0,
    upTicks = 0,
    clk = 0,
    hwm = 0;
  let wallMs = 0,
    busy = 0,
    steal = 0,
    benchTicks = 0,
    ghzMs = 0,
    served = false;
  const latencies = [];
  const roundRps = [];
  const loads = [];
  const errorDistribution = {};
  for (let round = 1; round <= rounds; round++) {
    const file = join(dir, `${table}-${row}-${round}.json`);
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const rOk = r.statusCodeDistribution?.OK ?? 0;
    count += r.count;
    ok += rOk;
    seconds += r.total / 1e9;
    roundRps.push(r.total > 0 ? rOk / (r.total / 1e9) : 0);
    for (const d of r.details ?? []) if (d.status === 'OK') latencies.push(d.latency / 1e6);
    for (const [k, v] of Object.entries(r.errorDistribution ?? {})) errorDistribution[k] = (errorDistribution[k] ?? 0) + v;
    const procFile = join(dir, `${table}-${row}-${round}.proc.json`);
    if (existsSync(procFile)) {
      const p = JSON.parse(readFileSync(procFile, 'utf8'));
      served = served || Boolean(p.pids);
      ticks += p.cpu_ticks;
      upTicks += p.upstream_cpu_ticks ?? 0;
      clk = p.clk_tck;
      hwm = Math.max(hwm, p.vm_hwm_kb);
      wallMs += p.wall_ms ?? 0;
      busy += p.machine_busy_ticks ?? 0;
      steal += p.machine_steal_ticks ?? 0;
      benchTicks += p.bench_procs_ticks ?? 0;
      ghzMs += p.ghz_cpu_ms ?? 0;
      if (p.load1 !== undefined) loads.push(Number(p.load1));
    }
  }
  if (roundRps.length === 0) return null;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : NaN);
  const wallS = wallMs / 1000;
  const per1k = (t) => (clk && count > 0 ? ((t / clk) * 1000) / count : NaN);
  return {
    row,
    rounds: roundRps.length,
    count,
    ok,
    errors: count - ok,
    seconds,
    rps: seconds > 0 ? ok / seconds : 0,
    roundRps,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    errorDistribution,
    cpuPer1k: served ? per1k(ticks) : NaN,
    upstreamCpuPer1k: per1k(upTicks),
    rssMb: served ? hwm / 1024 : NaN,
    machine:
      clk && wallS > 0
        ? {
            busyCores: busy / clk / wallS,
            ghzCores: ghzMs / 1000 / wallS,
            benchCores: benchTicks / clk / wallS,
            otherCores: (busy - benchTicks - (ghzMs / 1000) * clk) / clk / wallS,
            stealCores: steal / clk / wallS,
            maxLoad1: loads.length ? Math.max(...loads) : NaN,
          }
        : null,
  };
}

function loadTable(dir, t) {
  const rows = t.rows.map((row) => mergeRow(dir, t.table, row, t.rounds)).filter(Boolean);
  const byRow = Object.fromEntries(rows.map((r) => [r.row, r]));
  return { ...t, measured: rows, byRow };
}

function maxrate(dir, tableName, row, fraction) {
  const t = readTables(dir).find((x) => x.table === tableName);
  if (!t?.rows.includes(row)) process.exit(1);
  const m = mergeRow(dir, tableName, row, t.rounds);
  if (!m || !(m.rps > 0)) process.exit(1);
  console.log(Math.max(1, Math.floor(m.rps * fraction)));
}

// --- run.json -------------------------------------------------------------------------------------

function runjson(file) {
  const e = process.env;
  const num = (x) => (x === undefined || x === '' ? null : Number(x));
  const meta = {
    date: e.BM_DATE,
    command: e.BM_COMMAND,
    sections: (e.BM_SECTIONS ?? '').split(/\s+/).filter(Boolean),
    machine: {
      cpus: num(e.BM_CPUS),
      model: e.BM_MODEL || null,
      memory_gib: e.BM_MEM_KB ? Math.round((Number(e.BM_MEM_KB) / 1024 / 1024) * 10) / 10 : null,
      kernel: e.BM_KERNEL,
    },
    node: e.BM_NODE,
    ghz: e.BM_GHZ,
    nginx: e.BM_NGINX || null,
    nginx_skipped: e.BM_NGINX_SKIP || null,
    upstream: e.BM_UPSTREAM,
    connections: num(e.BM_CONNECTIONS),
    concurrency: num(e.BM_CONCURRENCY),
    ghz_cpus: e.BM_GHZ_CPUS,
    points: num(e.BM_POINTS),
    dim: num(e.BM_DIM),
    batch: num(e.BM_BATCH),
    rate_fraction: num(e.BM_RATE_FRACTION),
    value_exists_cache_ttl_seconds: num(e.BM_VALUE_EXISTS_TTL),
    quiet: {
      wanted_load1_below: num(e.BM_QUIET_LOAD),
      wait_limit_s: num(e.BM_WAIT_QUIET),
      waited_s: num(e.BM_WAITED),
      quiet_at_start: e.BM_QUIET === 'true',
      load1_at_start: num(e.BM_LOAD_START),
      load1_at_end: num(e.BM_LOAD_END),
    },
    measuring_s: num(e.BM_MEASURE_S),
    git: { commit: e.BM_GIT, uncommitted_build_inputs: num(e.BM_GIT_DIRTY) },
    died: (e.BM_DIED ?? '').split(/\s+/).filter(Boolean),
  };
  writeFileSync(file, `${JSON.stringify(meta, null, 1)}\n`);
}

// --- report ---------------------------------------------------------------------------------------

const CALL_TEXT = {
  'qdrant.Points/Search': (m) => `\`Points/Search\` (a ${m.dim}-dim vector, limit 10, brute force over ${m.points} points in the stand-in)`,
  'qdrant.Points/Query': (m) => `\`Points/Query\` (nearest to a ${m.dim}-dim vector, limit 10, brute force over ${m.points} points in the stand-in)`,
  'qdrant.Points/Upsert': (m) => `\`Points/Upsert\` (${m.batch} points x ${m.dim} floats, wait: true)`,
  'qdrant.Collections/List': () => '`Collections/List` (two collections; the JWT row is filtered to its one collection)',
  'qdrant.Points/Count': () => '`Points/Count` on `bench`, `exact: false` (cheap: the stand-in answers from the map size)',
};

function fmt(n, digits) {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}
function signed(n, digits = 2) {
  return Number.isFinite(n) ? (n >= 0 ? '+' : '') + n.toFixed(digits) : '-';
}
function ratio(a, b, digits = 2) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(digits)}x` : '-';
}
function pct(x) {
  return Number.isFinite(x) ? `${(x >= 0 ? '+' : '') + (x * 100).toFixed(1)}%` : '-';
}
const yes = (ok) => (ok === null ? 'n/a' : ok ? 'yes' : '**NO**');

// A table as aligned text or as Markdown.
class Out {
  constructor() {
    this.md = [];
    this.txt = [];
  }
  line(s = '') {
    this.md.push(s);
    this.txt.push(s.replace(/\*\*/g, '').replace(/`/g, ''));
  }
  heading(level, s) {
    this.md.push(`${'#'.repeat(level)} ${s}`, '');
    this.txt.push(s.replace(/`/g, ''), '='.repeat(Math.min(100, s.length)));
  }
  table(header, rows, leftColumns = 1) {
    this.md.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < leftColumns ? '---' : '---:')).join('|')}|`);
    for (const r of rows) this.md.push(`| ${r.join(' | ')} |`);
    const plain = (c) => c.replace(/\*\*/g, '').replace(/`/g, '');
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => plain(r[i]).length)));
    const line = (cells) =>
      cells
        .map((c, i) => (i < leftColumns ? plain(c).padEnd(widths[i]) : plain(c).padStart(widths[i])))
        .join('  ')
        .trimEnd();
    this.txt.push(line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line));
  }
}

function report(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const tables = readTables(dir).map((t) => loadTable(dir, t));
  const get = (name) => tables.find((t) => t.table === name);
  const o = new Out();
  const summary = { ...meta, tables: {} };

  o.line(
    `Run \`${meta.date}\`: ${meta.machine.cpus} CPUs (${meta.machine.model ?? 'unknown CPU'}), ${meta.machine.memory_gib} GiB RAM, ` +
      `Linux ${meta.machine.kernel}, Node ${meta.node}, ghz ${meta.ghz}, nginx ${meta.nginx ?? '(not run)'}.`,
  );
  o.line();
  o.line(
    `Command: \`${meta.command}\` (sections: ${meta.sections.join(', ')}; ${meta.measuring_s} s of measuring), ` +
      `commit ${meta.git?.commit ?? 'unknown'}${meta.git?.uncommitted_build_inputs ? ` with ${meta.git.uncommitted_build_inputs} uncommitted changes in src/ (or proto/, package*.json)` : ''}.`,
  );
  o.line();
  const q = meta.quiet;
  o.line(
    q.quiet_at_start
      ? `Machine: quiet at the start (1-minute load average ${q.load1_at_start}, below ${q.wanted_load1_below}` +
          `${q.waited_s ? `, after waiting ${q.waited_s} s` : ''}); ${q.load1_at_end} at the end (the benchmark's own load).`
      : `**Machine NOT quiet**: 1-minute load average ${q.load1_at_start} at the start (wanted below ${q.wanted_load1_below}` +
          `${q.wait_limit_s ? `; waited ${q.waited_s} s of ${q.wait_limit_s} s` : ''}): other processes competed for the CPUs, read ratios with care.`,
  );
  o.line();
  o.line(
    `Upstream: ${meta.upstream}, mutual TLS, one process for every row. ghz: ${meta.connections} connections, ` +
      `concurrency ${meta.concurrency}, ghz cpus ${meta.ghz_cpus}. Everything (ghz, upstream, nginx, proxies) shares the same ${meta.machine.cpus} CPUs.`,
  );
  const idleFile = join(dir, 'idle-rss-kb.json');
  if (existsSync(idleFile)) {
    const idle = JSON.parse(readFileSync(idleFile, 'utf8'));
    summary.idle_rss_mb = Object.fromEntries(Object.entries(idle).map(([k, v]) => [k, v / 1024]));
    o.line();
    o.line(
      'RSS after start-up and setup, before any load: ' +
        Object.entries(idle)
          .filter(([k]) => k !== 'nginx')
          .map(([k, v]) => `${k} ${fmt(v / 1024, 0)} MB`)
          .join(', ') +
        '.',
    );
  }
  if (meta.nginx_skipped) {
    o.line();
    o.line(`**nginx rows skipped**: ${meta.nginx_skipped}`);
  }
  if (meta.died?.length) {
    o.line();
    o.line(`**A server died during the run**: ${meta.died.join(', ')} (see logs/).`);
  }

  // Full-load tables.
  const full = tables.filter((t) => t.rps === 0 && !t.table.startsWith('max-'));
  const rate = tables.filter((t) => t.rps > 0);
  for (const t of full) {
    const direct = t.byRow.direct;
    const nginx = t.byRow.nginx;
    o.line();
    o.heading(3, `${CALL_TEXT[t.call]?.(meta) ?? t.call}: full load`);
    o.line(`${t.rounds} interleaved round(s) of ${t.duration} per row after a ${t.warmup} warm-up.`);
    o.line();
    const rows = t.measured.map((m) => [
      rowLabel(t.table, m.row),
      fmt(m.rps, 0),
      m.row === 'direct' ? '1.00x' : ratio(m.rps, direct?.rps),
      m.row === 'nginx' ? '1.00x' : ratio(m.rps, nginx?.rps),
      fmt(m.p50, 2),
      fmt(m.p90, 2),
      fmt(m.p99, 2),
      m.errors ? `**${m.errors}**` : '0',
      fmt(m.cpuPer1k, 3),
      fmt(m.upstreamCpuPer1k, 3),
      fmt(m.rssMb, 0),
      m.roundRps.length > 1 ? `${fmt(Math.min(...m.roundRps), 0)}-${fmt(Math.max(...m.roundRps), 0)}` : '',
      fmt(m.machine?.otherCores, 2),
    ]);
    o.table(
      [
        'path',
        'calls/s',
        'vs direct',
        'vs nginx',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'errors',
        'CPU s/1k calls',
        'upstream CPU s/1k',
        'peak RSS MB',
        'rounds calls/s',
        'other load cores',
      ],
      rows,
    );
    for (const m of t.measured.filter((x) => x.errors > 0)) o.line(`\nErrors, ${rowLabel(t.table, m.row)}: \`${JSON.stringify(m.errorDistribution)}\``);
    summary.tables[t.table] = { ...strip(t), rows: t.measured };
  }

  // Fixed-rate tables.
  for (const t of rate) {
    const direct = t.byRow.direct;
    const nginx = t.byRow.nginx;
    const source = t.table === 'rate-count' ? 'count' : t.table === 'rate-search' ? 'calls-search' : null;
    const from = get(source)?.byRow.proxy ?? get(`max-${t.table.replace('rate-', '')}`)?.byRow.proxy;
    o.line();
    o.heading(3, `${CALL_TEXT[t.call]?.(meta) ?? t.call}: fixed rate ${t.rps} calls/s`);
    o.line(
      `${t.rps} calls/s` +
        (from ? ` = ${meta.rate_fraction} x the proxy's own full-load rate (no auth, http2: ${fmt(from.rps, 0)} calls/s, same run)` : ' (set by hand)') +
        `; ${t.duration} per row after a ${t.warmup} warm-up; latency as ghz measures it (from the call's start, open-loop rate).`,
    );
    o.line();
    const rows = t.measured.map((m) => [
      rowLabel(t.table, m.row),
      fmt(m.rps, 0),
      fmt(m.p50, 2),
      fmt(m.p90, 2),
      fmt(m.p99, 2),
      m.row === 'direct' ? '' : signed(m.p50 - direct?.p50),
      m.row === 'direct' ? '' : signed(m.p99 - direct?.p99),
      m.row === 'nginx' || !nginx ? '' : signed(m.p99 - nginx.p99),
      m.errors ? `**${m.errors}**` : '0',
      fmt(m.cpuPer1k, 3),
      fmt(m.upstreamCpuPer1k, 3),
      fmt(m.rssMb, 0),
      fmt(m.machine?.otherCores, 2),
    ]);
    o.table(
      [
        'path',
        'calls/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'added p50 vs direct',
        'added p99 vs direct',
        'p99 vs nginx',
        'errors',
        'CPU s/1k calls',
        'upstream CPU s/1k',
        'peak RSS MB',
        'other load cores',
      ],
      rows,
    );
    for (const m of t.measured.filter((x) => x.errors > 0)) o.line(`\nErrors, ${rowLabel(t.table, m.row)}: \`${JSON.stringify(m.errorDistribution)}\``);
    summary.tables[t.table] = { ...strip(t), rows: t.measured };
  }

  // Column legend.
  o.line();
  o.line(
    'calls/s: successful calls per second (all rounds of the row together). p50/p90/p99: latency of successful calls ' +
      "(from ghz's per-call details, all rounds together). CPU s/1k calls: user+system CPU seconds of the process serving the row " +
      '(the proxy, or all nginx worker processes; none for direct) per 1000 calls, from /proc/PID/stat. upstream CPU s/1k: the same for the stand-in. ' +
      'peak RSS: VmHWM during the row (reset before each run; nginx: its workers summed). other load cores: CPU used by processes other ' +
      'than ghz, the upstream, nginx and the proxies during the row (about 0 on a quiet machine).',
  );

  // One row per table that has both rows: calls/s (full load only), CPU, p99 and RSS as "a / b = ratio".
  const pairRows = (a, b) =>
    tables
      .filter((x) => x.byRow[a] && x.byRow[b] && !x.table.startsWith('max-'))
      .map((t) => {
        const [x, y] = [t.byRow[a], t.byRow[b]];
        return [
          `${t.call.replace('qdrant.', '')}${t.rps ? ` @ ${t.rps}/s` : ', full load'}`,
          t.rps ? '' : `${fmt(x.rps, 0)} / ${fmt(y.rps, 0)} = ${ratio(x.rps, y.rps)}`,
          `${fmt(x.cpuPer1k, 3)} / ${fmt(y.cpuPer1k, 3)} = ${ratio(x.cpuPer1k, y.cpuPer1k)}`,
          `${fmt(x.p99, 2)} / ${fmt(y.p99, 2)}`,
          `${fmt(x.rssMb, 0)} / ${fmt(y.rssMb, 0)}`,
        ];
      });

  // Transport: http2 vs grpc-js.
  const transportRows = pairRows('proxy', 'grpcjs');
  let transportVerdict = null;
  if (transportRows.length) {
    const c = get('count');
    const h = c?.byRow.proxy;
    const g = c?.byRow.grpcjs;
    if (h && g) {
      const winner = h.cpuPer1k <= g.cpuPer1k ? 'http2' : 'grpc-js';
      transportVerdict = {
        winner,
        count_rps_http2_over_grpcjs: h.rps / g.rps,
        count_cpu_per_1k_http2: h.cpuPer1k,
        count_cpu_per_1k_grpcjs: g.cpuPer1k,
        cpu_saving: 1 - Math.min(h.cpuPer1k, g.cpuPer1k) / Math.max(h.cpuPer1k, g.cpuPer1k),
      };
    }
    o.line();
    o.heading(3, 'Upstream transport: `http2` (default) vs `grpc-js`');
    o.table(['call', 'calls/s http2 / grpc-js', 'proxy CPU s/1k http2 / grpc-js', 'p99 ms http2 / grpc-js', 'peak RSS MB http2 / grpc-js'], transportRows);
    if (transportVerdict) {
      o.line();
      o.line(
        `On \`Points/Count\` at full load **${transportVerdict.winner}** wins: ${fmt(transportVerdict.cpu_saving * 100, 0)}% less proxy CPU per call ` +
          `(${fmt(h.cpuPer1k, 3)} vs ${fmt(g.cpuPer1k, 3)} s/1k calls) and ${ratio(h.rps, g.rps)} the calls/s (http2 / grpc-js).`,
      );
    }
    summary.transport = transportVerdict;
  }

  // One upstream connection (the default) vs a pool of 4.
  const poolRows = pairRows('proxy', 'pool');
  if (poolRows.length) {
    o.line();
    o.heading(3, 'Upstream connections (http2 transport): 1 (default) vs 4 (`upstream.connections: 4`)');
    o.table(['call', 'calls/s 1 / 4', 'proxy CPU s/1k 1 / 4', 'p99 ms 1 / 4', 'peak RSS MB 1 / 4'], poolRows);
  }

  // TLS on the listener.
  const tlsRows = [];
  for (const t of tables.filter((x) => x.byRow.proxy && (x.byRow.tls || x.byRow.mtls) && !x.table.startsWith('max-'))) {
    const p = t.byRow.proxy;
    for (const r of ['tls', 'mtls']) {
      const m = t.byRow[r];
      if (!m) continue;
      tlsRows.push([
        `${t.call.replace('qdrant.', '')}${t.rps ? ` @ ${t.rps}/s` : ', full load'}`,
        r === 'tls' ? 'TLS' : 'mutual TLS',
        t.rps ? '' : ratio(m.rps, p.rps),
        ratio(m.cpuPer1k, p.cpuPer1k),
        signed(m.p50 - p.p50),
        signed(m.p99 - p.p99),
      ]);
    }
  }
  if (tlsRows.length) {
    o.line();
    o.heading(3, 'TLS on the client side: ratio to the plaintext listener (same proxy build, no auth)');
    o.table(['call', 'listener', 'calls/s vs plaintext', 'proxy CPU/call vs plaintext', 'added p50 ms', 'added p99 ms'], tlsRows, 2);
    o.line();
    o.line('New connections only at the start (ghz keeps its connections): this is the cost of encrypting the calls, not of handshakes.');
  }

  // Cost of authorization (the former auth table), on the count table.
  const count = get('count');
  if (count?.byRow.proxy && (count.byRow.jwt || count.byRow.apikey)) {
    const b = count.byRow.proxy;
    const authRows = [];
    for (const r of ['apikey', 'namedkey', 'jwt', 'value_exists', 'rs256', 'es256']) {
      const m = count.byRow[r];
      if (!m) continue;
      const cost = b.rps / m.rps - 1;
      const cpu = m.cpuPer1k / b.cpuPer1k - 1;
      const target = TARGETS.authCost[r];
      authRows.push([
        ROWS[r].label,
        pct(cost),
        pct(cpu),
        signed(m.p50 - b.p50),
        target === undefined ? '(none)' : `at most +${target * 100}%`,
        target === undefined ? '' : yes(Number.isFinite(cost) && cost <= target && cpu <= target),
      ]);
    }
    o.line();
    o.heading(3, 'Cost of authorization (`Points/Count`, full load, vs the proxy without keys)');
    o.table(['credential', 'cost/call', 'proxy CPU/call', 'added p50 ms', 'target', 'met? (both)'], authRows);
    o.line();
    o.line(
      'cost/call = no-auth calls/s / row calls/s - 1 (extra time per call at saturation); proxy CPU/call = extra proxy CPU per call. ' +
        'The api-key/JWT rows are served by a second proxy process (same build, same config apart from the key).',
    );
  }

  // Identity provider tokens against Qdrant's HS256 token, same proxy process, same grant.
  const providerTargets = [];
  if (count?.byRow.jwt && (count.byRow.rs256 || count.byRow.es256)) {
    const j = count.byRow.jwt;
    const providerRows = [];
    for (const r of ['rs256', 'es256']) {
      const m = count.byRow[r];
      if (!m) continue;
      const cpu = m.cpuPer1k / j.cpuPer1k - 1;
      providerRows.push([ROWS[r].label, ratio(m.rps, j.rps), pct(cpu), signed(m.p50 - j.p50), yes(cpu <= TARGETS.providerVsHs256Cpu)]);
      providerTargets.push([
        `IdP token <= +${TARGETS.providerVsHs256Cpu * 100}% proxy CPU per call vs HS256`,
        `${COUNT_CALL_TEXT}, full load, ${ROWS[r].label}`,
        `${pct(cpu)} (${fmt(m.cpuPer1k, 3)} vs ${fmt(j.cpuPer1k, 3)} s/1k)`,
        yes(cpu <= TARGETS.providerVsHs256Cpu),
      ]);
    }
    o.line();
    o.heading(3, "Identity provider tokens vs Qdrant's HS256 token (`Points/Count`, full load, same proxy, warm token cache)");
    o.table(['token', 'calls/s vs HS256', 'proxy CPU/call vs HS256', 'added p50 ms', `CPU within +${TARGETS.providerVsHs256Cpu * 100}%?`], providerRows);
  }
  // Tenant isolation: the same calls with a tenant-bound token and a plain collection token, same proxy.
  const tenantTargets = [];
  const tenantRows = [];
  for (const t of full.filter((x) => x.byRow.jwt && x.byRow.tenant)) {
    const j = t.byRow.jwt;
    const m = t.byRow.tenant;
    const cpu = m.cpuPer1k / j.cpuPer1k - 1;
    const where = `${t.call.replace('qdrant.', '')}, full load`;
    tenantRows.push([where, ratio(m.rps, j.rps), pct(cpu), signed(m.p50 - j.p50), yes(cpu <= TARGETS.tenantVsJwtCpu)]);
    tenantTargets.push([
      `tenant-bound token <= +${TARGETS.tenantVsJwtCpu * 100}% proxy CPU per call vs a plain collection token`,
      where,
      `${pct(cpu)} (${fmt(m.cpuPer1k, 3)} vs ${fmt(j.cpuPer1k, 3)} s/1k)`,
      yes(cpu <= TARGETS.tenantVsJwtCpu),
    ]);
  }
  if (tenantRows.length) {
    o.line();
    o.heading(3, 'Tenant isolation: a tenant-bound token against a plain collection token (same proxy, same calls)');
    o.table(['call', 'calls/s vs plain', 'proxy CPU/call vs plain', 'added p50 ms', `CPU within +${TARGETS.tenantVsJwtCpu * 100}%?`], tenantRows);
  }

  // Named keys against the master key, same proxy process.
  const namedTargets = [];
  if (count?.byRow.apikey && count.byRow.namedkey) {
    const a = count.byRow.apikey;
    const m = count.byRow.namedkey;
    const cpu = m.cpuPer1k / a.cpuPer1k - 1;
    namedTargets.push([
      `named key (10,000 in the file) <= +${TARGETS.namedKeyVsApiKeyCpu * 100}% proxy CPU per call vs service.api_key`,
      `${COUNT_CALL_TEXT}, full load`,
      `${pct(cpu)} (${fmt(m.cpuPer1k, 3)} vs ${fmt(a.cpuPer1k, 3)} s/1k), calls/s ${ratio(m.rps, a.rps)}`,
      yes(cpu <= TARGETS.namedKeyVsApiKeyCpu),
    ]);
  }
  // Rate limits against the same calls without them (the api-key row).
  const limitTargets = [];
  if (count?.byRow.limits_off && (count.byRow.limits || count.byRow.limits_redis)) {
    const a = count.byRow.limits_off;
    const limitRows = [];
    for (const r of ['limits', 'limits_redis']) {
      const m = count.byRow[r];
      if (!m) continue;
      const cpu = m.cpuPer1k / a.cpuPer1k - 1;
      limitRows.push([ROWS[r].label, ratio(m.rps, a.rps), pct(cpu), signed(m.p50 - a.p50), signed(m.p99 - a.p99)]);
      if (r === 'limits')
        limitTargets.push([
          `local rate limits <= +${TARGETS.limitsVsApiKeyCpu * 100}% proxy CPU per call`,
          `${COUNT_CALL_TEXT}, full load, vs its twin without limits`,
          `${pct(cpu)} (${fmt(m.cpuPer1k, 3)} vs ${fmt(a.cpuPer1k, 3)} s/1k)`,
          yes(cpu <= TARGETS.limitsVsApiKeyCpu),
        ]);
    }
    o.line();
    o.heading(3, 'Rate limits (`Points/Count`, full load, limits no call reaches, vs a twin proxy without them)');
    o.table(['row', 'calls/s vs twin', 'proxy CPU/call vs twin', 'added p50 ms', 'added p99 ms'], limitRows);
  }
  const costFile = join(dir, 'auth-cost.json');
  if (existsSync(costFile)) {
    const v = JSON.parse(readFileSync(costFile, 'utf8'));
    const label = {
      HS256: "Qdrant's HS256 token",
      RS256: 'identity provider token, RS256',
      ES256: 'identity provider token, ES256',
      master: 'service.api_key',
      named_key: `named key among ${v.keys_file.keys}`,
    };
    o.line();
    o.heading(3, 'Authentication, in-process (`bench/auth-cost.mjs`)');
    o.line(
      `Microseconds per \`Authenticator.authenticate\` of the built proxy, ${v.calls} sequential calls after ${v.warmup} warm-up ones (${v.node}): ` +
        'cold = no token cache, every call verifies the signature and reads the claims; warm = the token cache answers (what a client reusing its token costs; keys are never cached).',
    );
    o.line();
    o.table(
      ['credential', 'cold µs/call', 'warm µs/call'],
      Object.entries(v.results).map(([name, r]) => [label[name] ?? name, fmt(r.cold_us, 1), fmt(r.warm_us, 2)]),
    );
    o.line();
    o.line(`Reading a keys file of ${v.keys_file.keys} keys (start-up, and every reload of it): ${fmt(v.keys_file.read_ms_median_of_5, 0)} ms (median of 5).`);
    if (v.limits_us)
      o.line(
        `The limits stage of a call (\`TrafficPolicy.admit\` and the release of its place): ${fmt(v.limits_us.local, 2)} µs with local rate limits, ${fmt(v.limits_us.none, 2)} µs with none configured.`,
      );
    summary.auth_cost = v;
  }

  // The lean rows (bench/lean.mjs wrote their tables and targets).
  const leanTargets = [];
  if (existsSync(join(dir, 'lean.md'))) {
    o.line();
    o.heading(3, 'The hop alone: h2load -> nginx / proxy -> a minimal node:http2 upstream (`bench/lean.mjs`)');
    for (const l of readFileSync(join(dir, 'lean.md'), 'utf8').trimEnd().split('\n')) o.line(l);
    leanTargets.push(...JSON.parse(readFileSync(join(dir, 'lean-targets.json'), 'utf8')));
    summary.lean = JSON.parse(readFileSync(join(dir, 'lean.json'), 'utf8'));
  }

  // Targets of the record.
  const targets = [...leanTargets, ...providerTargets, ...namedTargets, ...limitTargets, ...tenantTargets];
  for (const t of full) {
    const j = t.byRow.jwt;
    const n = t.byRow.nginx;
    if (j && n) {
      const r = j.rps / n.rps;
      targets.push([
        `proxy with JWT >= ${TARGETS.jwtVsNginx}x nginx's calls/s`,
        `${t.call.replace('qdrant.', '')}, full load`,
        `${fmt(r, 2)}x (${fmt(j.rps, 0)} vs ${fmt(n.rps, 0)})`,
        yes(r >= TARGETS.jwtVsNginx),
      ]);
    }
  }
  for (const t of rate) {
    const d = t.byRow.direct;
    for (const r of ['proxy', 'jwt']) {
      const m = t.byRow[r];
      if (!m || !d) continue;
      const added = m.p99 - d.p99;
      const target = `p99 added over direct <= ${TARGETS.addedP99Ms} ms at ${meta.rate_fraction} x the proxy's max`;
      const where = `${t.call.replace('qdrant.', '')} @ ${t.rps}/s, ${ROWS[r].label}`;
      const n = t.byRow.nginx;
      if (n && d.p99 > n.p99) {
        // The floor's p99 above nginx's (the same path plus a hop) means the direct row stalled: its
        // true p99 is at most nginx's, so the proxy adds at least (proxy - nginx). Above the target
        // that is a certain NO; otherwise this run cannot tell.
        const atLeast = m.p99 - n.p99;
        targets.push([
          target,
          where,
          `${signed(added)} ms (${fmt(m.p99, 2)} vs ${fmt(d.p99, 2)}), but direct's p99 is above nginx's (${fmt(n.p99, 2)}): the floor stalled; added >= ${signed(atLeast)} ms`,
          atLeast > TARGETS.addedP99Ms ? yes(false) : 'unclear',
        ]);
        continue;
      }
      targets.push([target, where, `${signed(added)} ms (${fmt(m.p99, 2)} vs ${fmt(d.p99, 2)})`, yes(added <= TARGETS.addedP99Ms)]);
    }
  }
  for (const t of [...full, ...rate]) {
    for (const r of ['proxy', 'jwt']) {
      const m = t.byRow[r];
      if (!m || !Number.isFinite(m.cpuPer1k)) continue;
      targets.push([
        `<= ${TARGETS.cpuPer1k} proxy CPU s per 1000 calls`,
        `${t.call.replace('qdrant.', '')}${t.rps ? ` @ ${t.rps}/s` : ', full load'}, ${ROWS[r].label}`,
        `${fmt(m.cpuPer1k, 3)}${t.byRow.nginx ? ` (nginx ${fmt(t.byRow.nginx.cpuPer1k, 3)})` : ''}`,
        yes(m.cpuPer1k <= TARGETS.cpuPer1k),
      ]);
    }
  }
  {
    let worst = null;
    for (const t of full)
      for (const m of t.measured) if (ROWS[m.row]?.serves === 'proxy' && Number.isFinite(m.rssMb) && (!worst || m.rssMb > worst.m.rssMb)) worst = { t, m };
    if (worst) {
      targets.push([
        `proxy peak RSS <= ${TARGETS.rssMb} MiB under full load`,
        `largest of every full-load proxy row: ${worst.t.call.replace('qdrant.', '')}, ${rowLabel(worst.t.table, worst.m.row)}`,
        `${fmt(worst.m.rssMb, 0)} MB`,
        yes(worst.m.rssMb <= TARGETS.rssMb),
      ]);
    }
  }
  if (targets.length) {
    o.line();
    o.heading(3, 'Targets (reported, not asserted)');
    o.table(['target', 'where', 'measured', 'met?'], targets, 2);
  }
  summary.targets = targets.map(([target, where, measured, met]) => ({ target, where, measured, met: met.replace(/\*/g, '') }));

  // Noise.
  const spreads = full.flatMap((t) =>
    t.measured
      .filter((m) => m.roundRps.length > 1)
      .map((m) => ({
        where: `${t.call.replace('qdrant.', '')}, ${rowLabel(t.table, m.row)}`,
        spread: (Math.max(...m.roundRps) - Math.min(...m.roundRps)) / m.rps,
      })),
  );
  spreads.sort((a, b) => b.spread - a.spread);
  const maxSpread = spreads.length ? spreads[0].spread : NaN;
  const medianSpread = spreads.length ? spreads[Math.floor(spreads.length / 2)].spread : NaN;
  const others = tables.flatMap((t) => t.measured.map((m) => m.machine?.otherCores)).filter(Number.isFinite);
  const maxOther = others.length ? Math.max(...others) : NaN;
  const steals = tables.flatMap((t) => t.measured.map((m) => m.machine?.stealCores)).filter(Number.isFinite);
  summary.noise = {
    max_round_spread: maxSpread,
    median_round_spread: medianSpread,
    max_other_cores: maxOther,
    max_steal_cores: steals.length ? Math.max(...steals) : NaN,
  };
  o.line();
  o.line(
    `Noise: a full-load row's rounds differ by up to ${pct(maxSpread).replace('+', '')} in calls/s (${spreads[0]?.where ?? '-'}; median ` +
      `${pct(medianSpread).replace('+', '')}); other processes used up to ` +
      `${fmt(maxOther, 2)} cores during a row; steal up to ${fmt(summary.noise.max_steal_cores, 2)} cores.`,
  );
  if (maxOther > 0.1 || !q.quiet_at_start) {
    o.line();
    o.line(
      '**WARNING**: the machine was not quiet (other processes used CPU): differences of a few percent are not meaningful; ' +
        'repeat on an idle machine (BENCH_WAIT_QUIET=1200).',
    );
  }
  if (maxSpread > 0.05) {
    o.line();
    o.line(
      `**WARNING**: single rounds of a row were up to ${pct(maxSpread).replace('+', '')} apart` +
        (maxOther <= 0.1 && q.quiet_at_start ? " although the machine was quiet (the benchmark's own processes contend for 2 CPUs)" : '') +
        ': differences of a few percent between rows are not meaningful; use more rounds (BENCH_ROUNDS, BENCH_COUNT_ROUNDS) for finer comparisons.',
    );
  }
  o.line();
  o.line('Read these as ratios within this run only: ghz, the stand-in upstream, nginx and the proxies share the same CPUs.');

  const txt = o.txt.join('\n');
  console.log(txt);
  writeFileSync(join(dir, 'summary.txt'), `${txt}\n`);
  writeFileSync(join(dir, 'summary.md'), `${o.md.join('\n')}\n`);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
}

function strip(t) {
  const { measured, byRow, ...rest } = t;
  return rest;
}

// --- BENCHMARKS.md --------------------------------------------------------------------------------

const BEGIN = '<!-- bench:begin (generated by `BENCH_RECORD=1 make bench`; edit bench/bench.mjs, not this part) -->';
const END = '<!-- bench:end -->';

function record(dir, file) {
  const generated = readFileSync(join(dir, 'summary.md'), 'utf8').trimEnd();
  const block = `${BEGIN}\n\n${generated}\n\n${END}`;
  let text;
  if (existsSync(file)) {
    text = readFileSync(file, 'utf8');
    const a = text.indexOf('<!-- bench:begin');
    const b = text.indexOf(END);
    if (a < 0 || b < a) {
      console.error(`bench: ${file} has no ${END} markers; not touched`);
      process.exit(1);
    }
    text = text.slice(0, a) + block + text.slice(b + END.length);
  } else {
    text = `# Benchmarks\n\nThe performance record of qdrant-auth-proxy, from \`BENCH_RECORD=1 make bench\` (bench/README.md explains every row and column).\n\n${block}\n\n## Notes\n\n(none yet)\n`;
  }
  writeFileSync(file, text);
  console.log(`bench: ${file} updated from ${dir}/summary.md`);
}

// --- command line (last: the classes and constants above must be initialized) ---------------------

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
  case 'maxrate':
    maxrate(args[0], args[1], args[2], Number(args[3]));
    break;
  case 'runjson':
    runjson(args[0]);
    break;
  case 'report':
    report(args[0]);
    break;
  case 'record':
    record(args[0], args[1]);
    break;
  default:
    console.error(
      'usage: bench.mjs data DIR | port PID LOGFILE | check FILE LABEL | scrub IN OUT SECRETS | maxrate DIR TABLE ROW FRACTION | runjson FILE | report DIR | record DIR FILE',
    );
    process.exit(2);
}
