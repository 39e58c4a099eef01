#!/usr/bin/env node
// Helper for bench/run.sh (plain Node, no dependencies):
//   node bench/bench.mjs data DIR            write the ghz call-data JSON files into DIR
//   node bench/bench.mjs port PID LOGFILE    print the TCP port PID listens on (log line, else /proc)
//   node bench/bench.mjs check FILE LABEL    exit 1 unless every call in a ghz JSON report was OK
//   node bench/bench.mjs report DIR          print the results table for a bench/results/<ts> dir
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name, fallback) => process.env[name] ?? fallback;
const DIM = Number(env('BENCH_DIM', 768));
const POINTS = Number(env('BENCH_POINTS', 1000));
const BATCH = Number(env('BENCH_UPSERT_BATCH', 100));
const SEARCH_MESSAGES = Number(env('BENCH_SEARCH_MESSAGES', 64));
const COLLECTION = env('BENCH_COLLECTION', 'bench');
const CALL_NAMES = { search: 'Points/Search', upsert: 'Points/Upsert' };

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
  case 'report':
    report(args[0]);
    break;
  default:
    console.error('usage: bench.mjs data DIR | port PID LOGFILE | check FILE LABEL | report DIR');
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

  writeFileSync(join(dir, 'create.json'), JSON.stringify(create));
  writeFileSync(join(dir, 'upsert.json'), JSON.stringify(upserts));
  writeFileSync(join(dir, 'search.json'), JSON.stringify(searches));
  console.log(`bench: call data: ${upserts.length} upsert batches of ${BATCH} x ${DIM}-dim points, ${searches.length} searches`);
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

function report(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const rows = [];
  const ratios = [];
  const summary = { ...meta, results: [] };
  for (const call of meta.calls) {
    const direct = summarizeIf(join(dir, `${call}-direct.json`));
    const proxy = summarizeIf(join(dir, `${call}-proxy.json`));
    const proc = existsSync(join(dir, `${call}-proxy.proc.json`)) ? JSON.parse(readFileSync(join(dir, `${call}-proxy.proc.json`), 'utf8')) : null;
    const cpuPer1k = proc && proxy && proxy.count > 0 ? ((proc.cpu_ticks / proc.clk_tck) * 1000) / proxy.count : NaN;
    const rssMb = proc ? proc.vm_hwm_kb / 1024 : NaN;
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
  const out = [];
  out.push(
    `qdrant-auth-proxy benchmark  ${meta.date}  (${meta.cpus} CPUs, node ${meta.node}, ghz ${meta.ghz}, upstream: ${meta.upstream})`,
    `${meta.connections} connections, concurrency ${meta.concurrency}, ghz cpus ${meta.ghz_cpus ?? 'all'}, ${meta.duration} measured after ${meta.warmup} warm-up per row; ` +
      `search over ${meta.points} x ${meta.dim}-dim points, upsert ${meta.batch} points/call`,
    '',
    table(['call', 'path', 'calls/s', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU s/1k calls', 'proxy peak RSS MB'], rows),
    '',
    table(['call', 'throughput proxy/direct', 'added p50 ms', 'added p99 ms'], ratios),
    '',
    'Read these as ratios within this run only: ghz, the stand-in upstream and the proxy share the same CPUs.',
  );
  const text = out.join('\n');
  console.log(text);
  writeFileSync(join(dir, 'summary.txt'), text + '\n');
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
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

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
