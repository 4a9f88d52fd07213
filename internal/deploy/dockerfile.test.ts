// The Dockerfile against what the service and compose.yaml expect of its
// image: the stages compose builds, the executable and role, production
// dependencies only, the health check and ports. No Docker engine needed.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { settings } from "../config/config.js";
import { buildOf, HEALTHCHECK_SCRIPT, ours, read, root } from "./testing/compose_file.js";

interface Stage {
  name: string;
  from: string;
  instructions: { keyword: string; args: string }[];
}

function dockerfileStages(): { args: Record<string, string>; stages: Stage[] } {
  const lines = read("Dockerfile")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = "", rest = ""] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === "FROM") {
      const [, from = "", name = ""] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest) ?? [];
      const image = from.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => args[arg] ?? "");
      stages.push({ name, from: image, instructions: [] });
    } else if (upper === "ARG" && stages.length === 0) {
      const [key = "", value = ""] = rest.split("=");
      args[key] = value;
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest.replace(/\s+/g, " ") });
    }
  }
  return { args, stages };
}

describe("Dockerfile", () => {
  const { stages } = dockerfileStages();
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    assert.ok(found, `stage ${name}`);
    return found;
  };
  const runtime = stage("runtime");
  const last = (s: Stage, keyword: string) =>
    s.instructions.filter((i) => i.keyword === keyword).at(-1);
  const pkg = JSON.parse(read("package.json")) as {
    bin: Record<string, string>;
    engines: { node: string };
    scripts: Record<string, string>;
  };

  it("builds the runtime by default, on the Node.js major the service targets", () => {
    assert.equal(stages.at(-1)?.name, "runtime", "a plain `docker build` gives the runtime image");
    const major = /(\d+)/.exec(pkg.engines.node)?.[1];
    assert.match(runtime.from, new RegExp(`^node:${major}-bookworm-slim$`));
    for (const target of ours.map(([, s]) => buildOf(s)?.target)) stage(target ?? "");
  });

  it("runs the cal_service executable as an unprivileged user, the role as the command", () => {
    const user = last(runtime, "USER")?.args;
    assert.ok(user && !["root", "0"].includes(user.split(":")[0] ?? ""), "USER is not root");
    assert.deepEqual(JSON.parse(last(runtime, "ENTRYPOINT")?.args ?? "null"), [
      "node",
      `/app/${pkg.bin.cal_service}`,
    ]);
    assert.deepEqual(JSON.parse(last(runtime, "CMD")?.args ?? "null"), ["api"]);
    assert.ok(
      runtime.instructions.some(
        (i) => i.keyword === "COPY" && i.args === "--from=build /app/dist dist",
      ),
      "the compiled dist/ from the build stage",
    );
  });

  it("ships production dependencies only, and no test files", () => {
    const copied = runtime.instructions
      .filter((i) => i.keyword === "COPY" && i.args.includes("node_modules"))
      .map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
    assert.equal(copied.length, 1, "node_modules comes from one stage");
    const deps = stage(copied[0] ?? "");
    assert.ok(
      deps.instructions.some((i) => i.keyword === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)),
      `${deps.name}: npm ci --omit=dev`,
    );
    assert.ok(
      !runtime.instructions.some((i) => i.keyword === "RUN" && /npm (ci|install)/.test(i.args)),
    );
    // dist/ comes from `npm run build`, whose tsconfig leaves the tests out.
    assert.match(pkg.scripts.build ?? "", /-p tsconfig\.build\.json/);
    const buildConfig = JSON.parse(read("tsconfig.build.json")) as { exclude: string[] };
    assert.ok(buildConfig.exclude.includes("**/*.test.ts"));
    assert.ok(
      stage("build").instructions.some((i) => i.keyword === "RUN" && i.args === "npm run build"),
    );
  });

  it("ships the dependencies patched under patches/ with their patches applied", () => {
    const build = stage("build");
    const install = build.instructions.findIndex(
      (i) => i.keyword === "RUN" && /^npm ci\b/.test(i.args),
    );
    const copiesPatches = build.instructions.findIndex(
      (i) => i.keyword === "COPY" && i.args === "patches patches",
    );
    assert.ok(copiesPatches >= 0 && copiesPatches < install, "build: patches/ before npm ci");
    assert.equal(pkg.scripts.postinstall, "patch-package", "npm ci applies patches/");
    // prod-deps installs with --ignore-scripts and without patch-package:
    // each patched package must come from the build stage, after its npm ci.
    const deps = stage("prod-deps");
    const depsInstall = deps.instructions.findIndex(
      (i) => i.keyword === "RUN" && /^npm ci\b/.test(i.args),
    );
    const patched = readdirSync(join(root, "patches")).map(
      (file) => /^(.+)\+[^+]+\.patch$/.exec(file)?.[1]?.replace(/\+/g, "/") ?? file,
    );
    assert.ok(patched.length > 0, "patches/ holds at least the postgres.js patch");
    for (const name of patched) {
      const copied = deps.instructions.findIndex(
        (i) =>
          i.keyword === "COPY" &&
          i.args === `--from=build /app/node_modules/${name} node_modules/${name}`,
      );
      assert.ok(copied > depsInstall, `prod-deps: ${name} as patched in the build stage`);
    }
  });

  it("health-checks with the script compose uses, built from cmd/healthcheck.ts", () => {
    const healthcheck = last(runtime, "HEALTHCHECK")?.args ?? "";
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD") + 3)) as string[];
    assert.deepEqual(command, ["node", HEALTHCHECK_SCRIPT]);
    assert.ok(
      existsSync(join(root, "cmd/healthcheck.ts")),
      "dist/cmd/healthcheck.js is built from it",
    );
    const exposed = (last(runtime, "EXPOSE")?.args ?? "").split(" ").map(Number);
    const defaults = [settings.API_PORT, settings.SCHEDULER_PORT, settings.SENDER_PORT].map((s) =>
      Number(s.default),
    );
    assert.deepEqual(exposed, defaults);
  });

  it("keeps the host's node_modules, dist/ and .git out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((line) => line.trim());
    for (const path of ["node_modules", "dist", ".git", "data"])
      assert.ok(ignored.includes(path), path);
  });
});
