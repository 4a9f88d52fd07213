// compose.yaml read the way Compose reads it, for the checks that hold it
// (and the Dockerfile and Kubernetes manifests) against what the service
// actually reads and does. No Docker engine needed: these run in `npm test`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { type Config, loadConfig } from "../../config/config.js";
import { isRole, type Role } from "../healthcheck.js";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
export const read = (path: string) => readFileSync(join(root, path), "utf8");

/**
 * `${NAME:-default}` as Compose resolves it with NAME unset: the file must
 * work from a clean clone with no .env and nothing exported. Any other form
 * of interpolation (a bare `$NAME`, `${NAME}` without a default) would make
 * the file depend on the shell, and fails here.
 */
export function interpolateDefaults(text: string): string {
  const resolved = text.replace(/\$\{\w+:-([^}]*)\}/g, (_, fallback: string) => fallback);
  const leftover = /\$\{?\w+\}?/.exec(resolved.replace(/^\s*#.*$/gm, ""));
  assert.equal(leftover, null, `compose.yaml: ${leftover?.[0]} has no default`);
  return resolved;
}

export interface Service {
  image?: string;
  build?: string | { context?: string; target?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  ports?: (string | number | { target: number | string; published?: number | string })[];
  healthcheck?: {
    test?: string | string[];
    disable?: boolean;
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
  profiles?: string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  stop_grace_period?: string;
  hostname?: string;
  init?: boolean;
}

export const compose = parse(interpolateDefaults(read("compose.yaml")), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
};
export const services = compose.services;

/** Built from ./Dockerfile: the cal_service image (or its test stage). */
export const ours = Object.entries(services).filter(([, s]) => buildOf(s)?.context === ".");
export const roleServices = ours.filter(([name]) => name !== "tests");

/** Variables the integration suite reads besides the service's own (tests service only). */
export const SUITE_VARIABLES = new Set([
  "API_URL", // where the suite finds the running api
]);

// What each role needs, from cmd/<role>/: api, scheduler and
// migrate open the database (without DATABASE_URL, an embedded one inside
// the container: private to it and lost with it); scheduler and sender use
// the broker (without AMQP_URL they refuse to start: internal/app/requirements.ts).
export const DATABASE_ROLES: Role[] = ["api", "scheduler", "migrate"];
export const BROKER_ROLES: Role[] = ["scheduler", "sender"];
export const LONG_RUNNING_ROLES: Role[] = ["api", "scheduler", "sender"];

export const HEALTHCHECK_SCRIPT = "/app/dist/cmd/healthcheck.js";

/** The port a long-running role serves (the api) or its /metrics and /healthz on. */
export function listeningPort(role: Role, config: Config): number {
  switch (role) {
    case "api":
      return config.api.port;
    case "scheduler":
      return config.scheduler.port;
    case "sender":
      return config.queue.senderPort;
    default:
      throw new Error(`${role} does not listen on one port`);
  }
}

/** The longest a role may take to open its connections before it listens. */
export function connectingMs(role: Role, config: Config): number {
  return Math.max(
    DATABASE_ROLES.includes(role) && config.storage.kind === "postgres"
      ? config.storage.connectTimeoutMs
      : 0,
    BROKER_ROLES.includes(role) ? config.queue.connectTimeoutMs : 0,
  );
}

export function loadConfigOrFail(where: string, env: Record<string, string>): Config {
  const config = loadConfig(env);
  assert.ok(
    config.ok,
    `${where}: the service would refuse this environment: ${String(config.ok || config.error)}`,
  );
  return config.value;
}

export function buildOf(service: Service): { context?: string; target?: string } | undefined {
  return typeof service.build === "string" ? { context: service.build } : service.build;
}

export function envOf(name: string): Record<string, string> {
  const environment = services[name]?.environment ?? {};
  assert.ok(!Array.isArray(environment), `${name}: write environment as a map`);
  for (const [key, value] of Object.entries(environment)) {
    // Unquoted 8080 or false would be a YAML number or boolean.
    assert.equal(typeof value, "string", `${name}: ${key} must be a quoted string`);
  }
  return environment as Record<string, string>;
}

export function configOf(name: string): Config {
  return loadConfigOrFail(name, envOf(name));
}

export function roleOf(name: string): Role {
  const command = services[name]?.command;
  assert.ok(Array.isArray(command), `${name}: command must be a list (exec form)`);
  assert.equal(command.length, 1, `${name}: the command is the role alone, e.g. ["api"]`);
  const role = command[0] ?? "";
  assert.ok(isRole(role), `${name}: "${role}" is not a cal_service role`);
  return role;
}

export function dependenciesOf(name: string): Record<string, string> {
  const dependsOn = services[name]?.depends_on ?? {};
  if (Array.isArray(dependsOn))
    return Object.fromEntries(dependsOn.map((d) => [d, "service_started"]));
  return Object.fromEntries(
    Object.entries(dependsOn).map(([d, { condition }]) => [d, condition ?? "service_started"]),
  );
}

/** Container ports, and the host ports they are published on. */
export function portsOf(name: string): { target: number; published: number | undefined }[] {
  return (services[name]?.ports ?? []).map((port) => {
    if (typeof port === "object") {
      return {
        target: Number(port.target),
        published: port.published === undefined ? undefined : Number(port.published),
      };
    }
    // [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]; an empty PUBLISHED: Docker picks one.
    const parts = String(port).split("/")[0]?.split(":") ?? [];
    const target = Number(parts.at(-1));
    const published = parts.length > 1 ? parts.at(-2) : "";
    return { target, published: published ? Number(published) : undefined };
  });
}

/** "20s", "1m30s", "500ms" in milliseconds. */
export function composeDuration(value: string | undefined): number {
  assert.ok(value !== undefined, "duration missing");
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)];
  assert.equal(parts.map((p) => p[0]).join(""), value, `"${value}" is not a duration`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? ""] ?? Number.NaN), 0);
}

/** Named volumes mounted by a service: target path → volume name. */
export function namedVolumesOf(name: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const volume of services[name]?.volumes ?? []) {
    const [source, target] =
      typeof volume === "string" ? volume.split(":") : [volume.source, volume.target];
    if (source && target && !source.startsWith(".") && !source.startsWith("/")) {
      mounts.set(target, source);
    }
  }
  return mounts;
}

export function serviceWithImage(prefix: string): [string, Service] {
  const found = Object.entries(services).filter(([, s]) => s.image?.startsWith(prefix));
  assert.equal(found.length, 1, `exactly one service runs the ${prefix} image`);
  return found[0] as [string, Service];
}
