// The container health check (cmd/healthcheck.ts, run by the Dockerfile's
// HEALTHCHECK and compose's healthcheck): it finds the running role, probes
// the ports that role listens on, and fails once they stop answering.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import pino from "pino";
import { runAll } from "../../cmd/all/all.js";
import { loadConfig } from "../config/config.js";
import { findRunningRole, healthUrls, probe, probeHost } from "./healthcheck.js";
import { root } from "./testing/compose_file.js";

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Runs cmd/healthcheck.ts the way Docker runs the built one. */
function runHealthcheck(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "cmd/healthcheck.ts"), ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

describe("healthcheck", () => {
  it("finds the role in the command line of the cal_service process, also under an init", () => {
    const proc = mkdtempSync(join(tmpdir(), "cal-proc-"));
    after(() => rmSync(proc, { recursive: true, force: true }));
    const write = (pid: number, args: string[]) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "cmdline"), `${args.join("\0")}\0`);
    };
    assert.equal(findRunningRole(proc), undefined);
    write(1, ["/sbin/docker-init", "--"]);
    write(12, ["node", "/app/dist/cmd/healthcheck.js"]);
    assert.equal(findRunningRole(proc), undefined);
    write(7, ["node", "/app/dist/cmd/cal_service.js", "scheduler"]);
    assert.equal(findRunningRole(proc), "scheduler");
    write(1, ["node", "/app/dist/cmd/cal_service.js", "sender"]);
    assert.equal(findRunningRole(proc), "sender", "the lowest pid first");
    write(1, ["node", "/app/dist/cmd/cal_service.js", "--help"]);
    assert.equal(findRunningRole(proc), "scheduler", "not a role: looks further");
    assert.equal(findRunningRole(join(proc, "missing")), undefined);
  });

  it("reaches a wildcard address through loopback, any other as it is", () => {
    assert.equal(probeHost("0.0.0.0"), "127.0.0.1");
    assert.equal(probeHost("::"), "127.0.0.1");
    assert.equal(probeHost("10.1.2.3"), "10.1.2.3");
    assert.equal(probeHost("fd00::1"), "[fd00::1]");
  });

  it("counts only a 2xx answer in time as healthy, on any port", async (t) => {
    let answer: (res: ServerResponse) => void = () => {};
    const server = createHttpServer((_req, res) => answer(res));
    // 10080 is on fetch's "bad ports" list, which a role may be given.
    const port = await new Promise<number>((resolve) => {
      server.once("error", () => server.listen(0, "127.0.0.1", () => resolve(0)));
      server.listen(10080, "127.0.0.1", () => resolve(10080));
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });
    if (port === 0) t.diagnostic("port 10080 is taken here: the bad-port case is not exercised");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;

    answer = (res) => res.end('{"status":"ok"}');
    assert.deepEqual(await probe(url, 1000), { url, healthy: true, detail: '200 {"status":"ok"}' });
    answer = (res) => {
      res.statusCode = 503;
      res.end('{"status":"unhealthy","reason":"message broker unavailable"}');
    };
    const unhealthy = await probe(url, 1000);
    assert.equal(unhealthy.healthy, false);
    assert.match(unhealthy.detail, /^503 .*message broker unavailable/);
    answer = () => {}; // never answers
    assert.deepEqual(await probe(url, 200), {
      url,
      healthy: false,
      detail: "no answer within 200ms",
    });
  });

  it("probes exactly the ports the roles listen on, and fails once they stop", async () => {
    const [apiPort, schedulerPort, senderPort] = await freePorts(3);
    const env = {
      STORAGE: "memory",
      API_HOST: "0.0.0.0",
      API_PORT: String(apiPort),
      SCHEDULER_PORT: String(schedulerPort),
      SENDER_PORT: String(senderPort),
      LOG_LEVEL: "info",
    };
    const config = loadConfig(env);
    assert.ok(config.ok);
    // Where the roles say they listen, from their own log lines.
    const listening = new Map<string, number>();
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split("\n").filter(Boolean)) {
            // "api listening", "scheduler metrics and health listening", ...
            const { msg = "", url } = JSON.parse(line) as { msg?: string; url?: string };
            const role = /^(api|scheduler|sender) .*listening$/.exec(msg)?.[1];
            if (role && url) listening.set(role, Number(new URL(url).port));
          }
          done();
        },
      }),
    );
    const stop = await runAll(config.value, logger);
    let stopped = false;
    after(async () => {
      if (!stopped) await stop();
    });

    for (const role of ["api", "scheduler", "sender"] as const) {
      const urls = healthUrls(role, config.value);
      assert.deepEqual(
        urls.map((url) => Number(new URL(url).port)),
        [listening.get(role)],
        role,
      );
      for (const url of urls) assert.equal((await probe(url, 2000)).healthy, true, url);
    }
    assert.equal(healthUrls("all", config.value).length, 3);

    const healthy = await runHealthcheck(["all"], env);
    assert.equal(healthy.code, 0, healthy.output);
    assert.equal(healthy.output.match(/ healthy: 200/g)?.length, 3, healthy.output);

    await stop();
    stopped = true;
    const down = await runHealthcheck(["api"], env);
    assert.equal(down.code, 1, down.output);
    assert.match(down.output, /UNHEALTHY: ECONNREFUSED/);
  });

  it("passes for migrate, which serves nothing, and fails on a bad role or configuration", async () => {
    const migrate = await runHealthcheck(["migrate"], {});
    assert.equal(migrate.code, 0, migrate.output);
    const unknown = await runHealthcheck(["worker"], {});
    assert.equal(unknown.code, 1);
    assert.match(unknown.output, /unknown role "worker"/);
    const invalid = await runHealthcheck(["api"], { API_PORT: "eighty" });
    assert.equal(invalid.code, 1);
    assert.match(invalid.output, /API_PORT/);
  });
});
