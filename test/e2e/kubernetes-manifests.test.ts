import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '@slotrelay/host';

// Issue 15, container and Kubernetes: the manifests rendered (kubectl kustomize when kubectl is
// here, else the kustomization's files parsed), the pods a StatefulSet makes named from its name and
// replicas, and the real config loader run with each pod's HOSTNAME: instance IDs 1..N in the order
// of clusterMembers, each member the pod's own stable name. The image is not built here (no
// container daemon); the Dockerfile's properties are checked as text.

const repo = fileURLToPath(new URL('../..', import.meta.url));
const base = path.join(repo, 'deploy/kubernetes');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-k8s-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- Kubernetes objects, read field by field
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** The base as kustomize renders it; without kubectl, its resources and generated ConfigMap as kustomize would. */
function render(): Manifest[] {
  if (hasKubectl()) {
    const out = execFileSync('kubectl', ['kustomize', base], { encoding: 'utf8', timeout: 60_000 });
    return parseAllDocuments(out).map((d) => d.toJS() as Manifest);
  }
  const k = parse(fs.readFileSync(path.join(base, 'kustomization.yaml'), 'utf8')) as {
    namespace: string;
    resources: string[];
    configMapGenerator: Array<{ name: string; files: string[] }>;
  };
  const docs = k.resources.flatMap((r) =>
    parseAllDocuments(fs.readFileSync(path.join(base, r), 'utf8')).map((d) => d.toJS() as Manifest),
  );
  for (const g of k.configMapGenerator)
    docs.push({
      kind: 'ConfigMap',
      metadata: { name: g.name },
      data: Object.fromEntries(g.files.map((f) => [f, fs.readFileSync(path.join(base, f), 'utf8')])),
    });
  for (const d of docs) if (d.kind !== 'Namespace') d.metadata.namespace ??= k.namespace;
  return docs;
}

const manifests = render();
const one = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

describe('deploy/kubernetes', () => {
  it('a StatefulSet (Parallel) behind a headless Service that publishes members before they are ready', () => {
    const sts = one('StatefulSet');
    const svc = one('Service');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.serviceName).toBe(svc.metadata.name);
    expect(svc.spec.clusterIP).toBe('None');
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);

    const pod = sts.spec.template;
    const c = pod.spec.containers[0];
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    const metricsPort = c.ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(pod.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('the config loader gives each pod of the StatefulSet instance IDs 1..N, in the order of clusterMembers', () => {
    const sts = one('StatefulSet');
    const svc = one('Service');
    const c = sts.spec.template.spec.containers[0];
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'slotrelay-config')!;
    const mount = c.volumeMounts.find((v: { name: string }) => v.name === 'config').mountPath as string;
    const configArg = c.args[c.args.indexOf('--config') + 1] as string;
    expect(path.dirname(configArg)).toBe(mount);
    const doc = parse(configMap.data![path.basename(configArg)]!) as Record<string, unknown>;
    const file = path.join(tmp, path.basename(configArg));
    fs.writeFileSync(file, stringify(doc));

    // Every variable the config reads comes from the Secret the pod gets.
    const secret = one('Secret');
    expect(c.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    const env = Object.fromEntries(Object.keys(secret.stringData!).map((k) => [k, `value-of-${k}`]));

    const replicas = sts.spec.replicas as number;
    const pods = Array.from({ length: replicas }, (_, i) => `${sts.metadata.name}-${i}`);
    const ids = pods.map((pod) => {
      const config = loadConfigFile(file, { ...env, HOSTNAME: pod });
      const conn = config.connections[0]!;
      expect(conn.clusterMembers).toHaveLength(replicas);
      // The member of instance k is pod k-1's stable name on the Service, on the port it listens on.
      const own = conn.clusterMembers[conn.instanceId! - 1]!;
      expect(own).toBe(`${pod}.${svc.metadata.name}.${sts.metadata.namespace}.svc.cluster.local:${conn.localPort}`);
      expect(c.ports.find((p: { name: string }) => p.name === 'redis').containerPort).toBe(conn.localPort);
      expect(conn.redisPassword).toBe('value-of-REDIS_PASSWORD');
      return conn.instanceId;
    });
    expect(ids).toEqual(pods.map((_, i) => i + 1));
  });

  it('the Dockerfile: multi-stage from the official Node 20 image, production dependencies, non-root, Node as PID 1 on SIGTERM', () => {
    const text = fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    const froms = lines.filter((l) => /^FROM\s/.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-/m);
    expect(text).toMatch(/npm ci\b/);
    expect(text).toMatch(/turbo run build/);
    expect(text).toMatch(/npm install --omit=dev/);
    const last = text.slice(text.lastIndexOf('\nFROM '));
    expect(last).toMatch(/^USER node$/m);
    expect(last).toMatch(/^STOPSIGNAL SIGTERM$/m);
    const entry = /^ENTRYPOINT (.*)$/m.exec(last)![1]!;
    const argv = JSON.parse(entry) as string[]; // exec form: no shell between the runtime and Node
    expect(argv[0]).toBe('node');
    expect(argv[1]).toMatch(/@slotrelay\/host\/dist\/cli\.js$/);
  });
});
