// deploy/k8s (the kustomize base and its example overlay) against the
// Kubernetes API schemas, offline (kubernetes-models: the API's OpenAPI
// schemas compiled for ajv), and against what the service reads and serves:
// variable names, ports, probe paths, start order, shutdown time, resources.
// A manifest that the API server would reject, or that points a probe at a
// path the role does not serve, fails here rather than in a rollout.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pino from "pino";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { runAll } from "../../cmd/all/all.js";
import { unmetRequirement } from "../app/requirements.js";
import { settingList } from "../config/config.js";
import { isRole, type Role } from "./healthcheck.js";
import {
  BROKER_ROLES,
  connectingMs,
  DATABASE_ROLES,
  LONG_RUNNING_ROLES,
  listeningPort,
  loadConfigOrFail,
  read,
  root,
} from "./testing/compose_file.js";

// ------------------------------------------------------------ the manifests

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: walked by the checks below, validated by the schemas
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Kustomization {
  resources?: string[];
  patches?: { path: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  namespace?: string;
}

const BASE = "deploy/k8s/base";
const OVERLAY = "deploy/k8s/overlays/example";

function manifestsIn(path: string): Manifest[] {
  return parseAllDocuments(read(path)).map((doc) => {
    assert.deepEqual(doc.errors, [], path);
    return doc.toJS() as Manifest;
  });
}

const kustomization = parseYaml(read(`${BASE}/kustomization.yaml`)) as Kustomization;
const base = (kustomization.resources ?? []).flatMap((file) => manifestsIn(`${BASE}/${file}`));
const overlay = parseYaml(read(`${OVERLAY}/kustomization.yaml`)) as Kustomization;

const key = (m: { kind: string; metadata: { name: string } }) => `${m.kind}/${m.metadata.name}`;
function find(kind: string, name: string): Manifest {
  const found = base.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `${kind}/${name} is in the base`);
  return found;
}

/** A strategic-merge patch of maps only (what the overlay's patches are): lists are replaced. */
function merge(target: unknown, patch: unknown): unknown {
  if (typeof target !== "object" || target === null || Array.isArray(target)) return patch;
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const merged: Record<string, unknown> = { ...(target as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) merged[k] = merge(merged[k], v);
  return merged;
}

/** The overlay's output, as `kustomize build` would give it for these patches. */
function overlaid(): Manifest[] {
  const patches = (overlay.patches ?? []).flatMap((p) => manifestsIn(`${OVERLAY}/${p.path}`));
  return base.map((m) => {
    let result = structuredClone(m);
    for (const patch of patches.filter((p) => key(p) === key(m))) {
      result = merge(result, patch) as Manifest;
    }
    return result;
  });
}

// ---------------------------------------------------------------- workloads

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
  timeoutSeconds?: number;
}

const workloads = base.filter((m) => ["Deployment", "Job"].includes(m.kind));
const podSpecOf = (m: Manifest) => m.spec.template.spec;
const containersOf = (m: Manifest): Container[] => podSpecOf(m).containers;
const initContainersOf = (m: Manifest): Container[] => podSpecOf(m).initContainers ?? [];
const everyContainer = (m: Manifest) => [...initContainersOf(m), ...containersOf(m)];

function roleOf(container: Container): Role {
  assert.equal(container.command, undefined, `${container.name}: the image's entrypoint runs`);
  const role = container.args?.[0] ?? "";
  assert.equal(container.args?.length, 1, `${container.name}: args is the role alone`);
  assert.ok(isRole(role), `${container.name}: "${role}" is not a cal_service role`);
  return role;
}

/** The Deployment whose container runs `role`. */
function deploymentOf(role: Role): Manifest {
  const found = base.filter(
    (m) => m.kind === "Deployment" && containersOf(m).some((c) => roleOf(c) === role),
  );
  assert.equal(found.length, 1, `one Deployment runs ${role}`);
  return found[0] as Manifest;
}

/** What the container's process sees: its envFrom ConfigMaps and Secrets, then env. */
function environmentOf(container: Container, manifests = base): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const [kind, name] = source.configMapRef
      ? ["ConfigMap", source.configMapRef.name]
      : ["Secret", source.secretRef?.name ?? ""];
    const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    assert.ok(found, `${container.name}: envFrom ${kind}/${name} is not in the manifests`);
    Object.assign(env, found.data ?? {}, found.stringData ?? {});
  }
  for (const { name, value } of container.env ?? []) env[name] = value ?? "";
  return env;
}

function portNumber(container: Container, port: number | string | undefined): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  assert.ok(named, `${container.name}: no port named ${port}`);
  return named.containerPort;
}

function cpu(quantity: string | undefined): number {
  assert.ok(quantity, "a CPU quantity");
  return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}
function mebibytes(quantity: string | undefined): number {
  const [, amount = "", unit = ""] = /^(\d+)(Mi|Gi)$/.exec(quantity ?? "") ?? [];
  assert.ok(amount, `memory "${quantity}": write it in Mi or Gi`);
  return Number(amount) * (unit === "Gi" ? 1024 : 1);
}

// --------------------------------------------------------- schema validation

async function validate(manifest: Manifest): Promise<void> {
  const [group, version] = manifest.apiVersion.includes("/")
    ? manifest.apiVersion.split("/")
    : ["", manifest.apiVersion];
  const module = `kubernetes-models/${group ? `${group}/` : ""}${version}/${manifest.kind}`;
  const models = (await import(module)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = models[manifest.kind];
  assert.ok(Model, `${module} exports ${manifest.kind}`);
  new Model(manifest).validate();
}

describe("Kubernetes manifests (deploy/k8s)", () => {
  it("lists every file of the base in its kustomization, and only files that exist", () => {
    const files = readdirSync(join(root, BASE))
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort();
    assert.deepEqual([...(kustomization.resources ?? [])].sort(), files);
    assert.deepEqual(overlay.resources, ["../../base"]);
  });

  it("are valid against the Kubernetes API schemas, the base and the overlay's output", async () => {
    // The validator can fail: a port given as a string is rejected.
    await assert.rejects(
      validate({
        ...find("Service", "cal-service-api"),
        spec: { ports: [{ port: "8080" }] },
      }),
      /port must be integer/,
    );
    for (const manifest of [...base, ...overlaid()]) {
      await assert.doesNotReject(validate(manifest), key(manifest));
    }
  });

  it("patches in the overlay only what the base has, and renames only its image", () => {
    for (const { path } of overlay.patches ?? []) {
      for (const patch of manifestsIn(`${OVERLAY}/${path}`)) find(patch.kind, patch.metadata.name);
    }
    const images = new Set(workloads.flatMap((m) => everyContainer(m).map((c) => c.image)));
    assert.deepEqual([...images], ["cal_service"], "one image for every role");
    assert.deepEqual(
      (overlay.images ?? []).map((i) => i.name),
      ["cal_service"],
    );
    assert.ok(overlay.namespace, "the overlay names its namespace");
  });

  it("sets only variables the service reads, and gives each role a configuration it accepts", () => {
    const known = new Set<string>(settingList.map((s) => s.name));
    for (const manifest of [...base, ...overlaid()]) {
      if (manifest.kind !== "ConfigMap" && manifest.kind !== "Secret") continue;
      for (const name of Object.keys({ ...manifest.data, ...manifest.stringData })) {
        assert.ok(known.has(name), `${key(manifest)}: ${name} is not a variable cal_service reads`);
      }
    }
    for (const manifests of [base, overlaid()]) {
      for (const workload of manifests.filter((m) => ["Deployment", "Job"].includes(m.kind))) {
        for (const container of everyContainer(workload)) {
          for (const { name } of container.env ?? []) assert.ok(known.has(name), name);
          const role = roleOf(container);
          const config = loadConfigOrFail(
            `${key(workload)} ${container.name}`,
            environmentOf(container, manifests),
          );
          const unmet = unmetRequirement(role, config);
          assert.equal(unmet, undefined, `${container.name}: ${role} would refuse: ${unmet}`);
          if (DATABASE_ROLES.includes(role)) {
            assert.ok(
              config.storage.kind === "postgres" && config.storage.databaseUrl,
              `${container.name}: DATABASE_URL (else an embedded database in the pod)`,
            );
          }
          if (BROKER_ROLES.includes(role)) {
            assert.ok(config.queue.amqpUrl, `${container.name}: AMQP_URL`);
          }
          if (role === "api") {
            assert.equal(
              config.storage.kind === "postgres" && config.storage.migrateOnStart,
              false,
            );
          }
        }
      }
    }
  });

  it("runs two of each role, and migrations before any role that opens the database", () => {
    // The api's count is the autoscaler's to keep (a count in the Deployment
    // would reset it at every apply); the others are fixed.
    assert.equal(deploymentOf("api").spec.replicas, undefined, "api: replicas left to the HPA");
    assert.equal(find("HorizontalPodAutoscaler", "cal-service-api").spec.minReplicas, 2);
    for (const role of ["scheduler", "sender"] as const) {
      assert.equal(deploymentOf(role).spec.replicas, 2, `${role}: 2 replicas`);
    }
    const jobs = base.filter((m) => m.kind === "Job");
    assert.deepEqual(
      jobs.map((j) => containersOf(j).map(roleOf)),
      [["migrate"]],
      "one Job, running migrate",
    );
    assert.equal(podSpecOf(jobs[0] as Manifest).restartPolicy, "OnFailure");
    for (const role of LONG_RUNNING_ROLES) {
      const init = initContainersOf(deploymentOf(role)).map(roleOf);
      assert.deepEqual(
        init,
        DATABASE_ROLES.includes(role) ? ["migrate"] : [],
        `${role}: init containers`,
      );
    }
  });

  it("opens the port each role listens on, and the Service reaches the api's alone", () => {
    for (const role of LONG_RUNNING_ROLES) {
      const [container] = containersOf(deploymentOf(role));
      assert.ok(container);
      const config = loadConfigOrFail(role, environmentOf(container));
      assert.deepEqual(
        container.ports?.map((p) => p.containerPort),
        [listeningPort(role, config)],
        `${role}: containerPort`,
      );
    }
    const services = base.filter((m) => m.kind === "Service");
    assert.deepEqual(services.map(key), ["Service/cal-service-api"]);
    const service = services[0] as Manifest;
    const api = deploymentOf("api");
    const [apiContainer] = containersOf(api);
    assert.ok(apiContainer);
    for (const { targetPort } of service.spec.ports) {
      assert.equal(portNumber(apiContainer, targetPort), 8080);
    }
    const selects = (selector: Record<string, string>, m: Manifest) =>
      Object.entries(selector).every(([k, v]) => m.spec.template.metadata.labels[k] === v);
    const selected = workloads.filter((m) => selects(service.spec.selector, m));
    assert.deepEqual(selected.map(key), [key(api)], "the Service selects the api's pods only");
    for (const m of base.filter((m) => m.kind === "Deployment")) {
      assert.ok(selects(m.spec.selector.matchLabels, m), `${key(m)}: selector matches its pods`);
    }
  });

  it("probes each role where it listens, with paths it serves, patient enough for its start", async () => {
    // The paths as the roles really serve them: every role in one process,
    // on free ports, with in-memory storage and queue.
    const env = {
      STORAGE: "memory",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
    };
    const listening = new Map<string, number>();
    const logger = pino(
      { level: "info" },
      {
        write(line: string) {
          const { msg = "", url } = JSON.parse(line) as { msg?: string; url?: string };
          const role = /^(api|scheduler|sender) .*listening$/.exec(msg)?.[1];
          if (role && url) listening.set(role, Number(new URL(url).port));
        },
      },
    );
    const stop = await runAll(loadConfigOrFail("test", env), logger);
    after(stop);
    const status = (role: Role, path: string) =>
      new Promise<number>((resolve, reject) => {
        get(`http://127.0.0.1:${listening.get(role)}${path}`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on("error", reject);
      });

    const expected: Record<string, { readiness: string; liveness: string }> = {
      // Ready while the database answers; alive whatever it does.
      api: { readiness: "/readyz", liveness: "/healthz" },
      // /healthz follows the broker and database; alive is the process answering.
      scheduler: { readiness: "/healthz", liveness: "/metrics" },
      sender: { readiness: "/healthz", liveness: "/metrics" },
    };
    for (const role of LONG_RUNNING_ROLES) {
      const [container] = containersOf(deploymentOf(role));
      assert.ok(container);
      const config = loadConfigOrFail(role, environmentOf(container));
      const probes = {
        startup: container.startupProbe,
        liveness: container.livenessProbe,
        readiness: container.readinessProbe,
      };
      for (const [kind, probe] of Object.entries(probes)) {
        assert.ok(probe?.httpGet, `${role}: an HTTP ${kind} probe`);
        const port = portNumber(container, probe.httpGet.port);
        assert.equal(port, listeningPort(role, config), `${role} ${kind}: the port it listens on`);
        assert.equal(await status(role, probe.httpGet.path), 200, `${role} ${kind} path`);
        assert.ok((probe.timeoutSeconds ?? 1) >= 3, `${role} ${kind}: timeout`);
      }
      assert.equal(container.readinessProbe?.httpGet?.path, expected[role]?.readiness, role);
      assert.equal(container.livenessProbe?.httpGet?.path, expected[role]?.liveness, role);
      // It listens only once its connections are up (each retried up to 60s).
      const startup = container.startupProbe as Probe;
      const patience = (startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3) * 1000;
      assert.ok(patience >= connectingMs(role, config), `${role}: startup probe patience`);
    }
  });

  it("gives each pod time to shut down gracefully", () => {
    for (const role of LONG_RUNNING_ROLES) {
      const deployment = deploymentOf(role);
      const [container] = containersOf(deployment);
      assert.ok(container);
      const config = loadConfigOrFail(role, environmentOf(container));
      const preStop = container.lifecycle?.preStop?.exec?.command;
      const pause = preStop?.[0] === "sleep" ? Number(preStop[1]) * 1000 : 0;
      // The whole stop holds SHUTDOWN_TIMEOUT (internal/app/shutdown.ts); 2 s
      // more for the process to exit and the kubelet to see it.
      const needed = pause + config.api.shutdownTimeoutMs + 2000;
      const grace = (podSpecOf(deployment).terminationGracePeriodSeconds ?? 30) * 1000;
      assert.ok(grace >= needed, `${role}: terminationGracePeriodSeconds ${grace} < ${needed} ms`);
    }
  });

  it("runs every container unprivileged on a read-only root filesystem", () => {
    const dockerUser = /^USER\s+(\S+)/m.exec(read("Dockerfile"))?.[1];
    assert.equal(dockerUser, "node", "the image's user (uid 1000 in node images)");
    for (const workload of workloads) {
      const pod = podSpecOf(workload);
      assert.equal(pod.securityContext?.runAsNonRoot, true, key(workload));
      assert.equal(pod.securityContext?.runAsUser, 1000, `${key(workload)}: the image's user`);
      assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
      assert.equal(pod.automountServiceAccountToken, false, `${key(workload)}: no API token`);
      for (const container of everyContainer(workload)) {
        const where = `${key(workload)} ${container.name}`;
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, where);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, where);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ["ALL"], where);
      }
    }
  });

  it("requests and limits CPU and memory for every container, above the image's heap cap", () => {
    const heapCap = Number(/--max-old-space-size=(\d+)/.exec(read("Dockerfile"))?.[1]);
    assert.ok(heapCap > 0, "the Dockerfile caps the heap");
    for (const workload of workloads) {
      for (const container of everyContainer(workload)) {
        const where = `${key(workload)} ${container.name}`;
        const { requests, limits } = container.resources ?? {};
        assert.ok(cpu(requests?.cpu) <= cpu(limits?.cpu), `${where}: cpu request <= limit`);
        assert.ok(
          mebibytes(requests?.memory) <= mebibytes(limits?.memory),
          `${where}: memory request <= limit`,
        );
        // V8 stops at the cap only for the old generation: the process needs more.
        assert.ok(mebibytes(limits?.memory) > heapCap, `${where}: memory limit above the heap cap`);
      }
    }
  });

  it("keeps the api available through disruptions, and scales it on CPU", () => {
    const api = deploymentOf("api");
    const pdbs = base.filter((m) => m.kind === "PodDisruptionBudget");
    assert.equal(pdbs.length, 1);
    const pdb = pdbs[0] as Manifest;
    assert.deepEqual(pdb.spec.selector.matchLabels, api.spec.selector.matchLabels);
    const hpa = find("HorizontalPodAutoscaler", "cal-service-api");
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < hpa.spec.minReplicas);
    assert.equal(base.filter((m) => m.kind === "HorizontalPodAutoscaler").length, 1);
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: api.apiVersion,
      kind: "Deployment",
      name: api.metadata.name,
    });
    assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
    assert.equal(hpa.spec.metrics[0]?.resource?.name, "cpu");
    const overlayHpa = overlaid().find((m) => key(m) === key(hpa));
    assert.ok((overlayHpa?.spec.minReplicas ?? 0) > pdb.spec.minAvailable);
  });
});
