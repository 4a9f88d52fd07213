// compose.yaml against what the service actually reads and does. A variable
// compose sets that the service does not read, a required one left out, a
// port or health check that points elsewhere than the role listens, or a
// start order that lets a role start before what it needs, fails here
// rather than in someone's `docker compose up`. (That it runs on a Docker
// engine, with Compose v1 and v2: `npm run test:compose`.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unmetRequirement } from "../app/requirements.js";
import { settingList } from "../config/config.js";
import { healthUrls } from "./healthcheck.js";
import {
  BROKER_ROLES,
  buildOf,
  compose,
  composeDuration,
  configOf,
  connectingMs,
  DATABASE_ROLES,
  dependenciesOf,
  envOf,
  HEALTHCHECK_SCRIPT,
  interpolateDefaults,
  LONG_RUNNING_ROLES,
  listeningPort,
  namedVolumesOf,
  ours,
  portsOf,
  read,
  roleOf,
  roleServices,
  SUITE_VARIABLES,
  services,
  serviceWithImage,
} from "./testing/compose_file.js";

describe("compose.yaml", () => {
  it("follows the Compose specification and reads in Compose v1: no version or name key", () => {
    assert.equal("version" in compose, false, "the Compose specification has no version key");
    // docker-compose 1.29 (Debian's) rejects a top-level name: the project is
    // named after the directory, or by -p / COMPOSE_PROJECT_NAME.
    assert.equal("name" in compose, false, "Compose v1 rejects a top-level name");
    for (const key of Object.keys(compose)) {
      assert.ok(
        ["services", "volumes", "networks", "configs", "secrets"].includes(key) ||
          key.startsWith("x-"),
        `unexpected top-level key ${key}`,
      );
    }
  });

  it("works with nothing set in the shell: every interpolated variable has a default", () => {
    // Compose's interpolation syntax, written without JavaScript's.
    const compose = (body: string) => `a: $${body}`;
    assert.equal(interpolateDefaults(compose("{CAL_API_PORT:-8080}")), "a: 8080");
    assert.throws(() => interpolateDefaults(compose("{CAL_API_PORT}")), /CAL_API_PORT/);
    assert.throws(() => interpolateDefaults(compose("CAL_API_PORT")), /CAL_API_PORT/);
    interpolateDefaults(read("compose.yaml"));
  });

  it("runs every role from one image, built once from one build section", () => {
    const images = new Set(roleServices.map(([, s]) => s.image));
    assert.equal(images.size, 1, `one image name for every role, not ${[...images].join(", ")}`);
    const [image] = images;
    assert.ok(image, "the roles name their image, so the first build serves them all");
    const builds = new Set(roleServices.map(([, s]) => JSON.stringify(buildOf(s))));
    assert.equal(builds.size, 1, "one build section for every role");
    // The tests stage is another image: it must not take the roles' name.
    assert.notEqual(services.tests?.image ?? "", image);
  });

  it("runs every role from our image, plus the test runner", () => {
    assert.deepEqual(ours.map(([name]) => name).sort(), [
      "api",
      "migrate",
      "scheduler",
      "sender",
      "tests",
    ]);
    for (const [name] of roleServices) {
      assert.equal(roleOf(name), name, `${name}: runs the role it is named after`);
      assert.equal(
        buildOf(services[name] ?? {})?.target,
        "runtime",
        `${name}: the production stage`,
      );
    }
  });

  it("sets only variables the service reads, as strings it accepts", () => {
    const known = new Set<string>(settingList.map((s) => s.name));
    for (const [name] of ours) {
      for (const key of Object.keys(envOf(name))) {
        const allowed = known.has(key) || (name === "tests" && SUITE_VARIABLES.has(key));
        assert.ok(
          allowed,
          `${name}: ${key} is not a variable cal_service reads (README, Configuration)`,
        );
      }
      configOf(name);
    }
  });

  it("gives each role the database and broker it needs", () => {
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const config = configOf(name);
      const unmet = unmetRequirement(role, config);
      assert.equal(unmet, undefined, `${name}: cal_service ${role} would refuse: ${unmet}`);
      if (DATABASE_ROLES.includes(role)) {
        assert.ok(
          config.storage.kind === "postgres" && config.storage.databaseUrl !== undefined,
          `${name}: needs DATABASE_URL (else an embedded database private to the container)`,
        );
      }
      if (BROKER_ROLES.includes(role)) {
        assert.ok(config.queue.amqpUrl !== undefined, `${name}: needs AMQP_URL`);
      }
    }
    // The suite talks to the same stack.
    const tests = envOf("tests");
    assert.equal(tests.DATABASE_URL, envOf("api").DATABASE_URL);
    assert.equal(tests.AMQP_URL, envOf("scheduler").AMQP_URL);
    assert.ok(tests.API_URL, "tests: API_URL names the api");
    const apiUrl = new URL(tests.API_URL);
    assert.equal(apiUrl.hostname, "api");
    assert.equal(Number(apiUrl.port), configOf("api").api.port);
  });

  it("uses the credentials, host and port the PostgreSQL and RabbitMQ services are set up with", () => {
    const [pgName, pg] = serviceWithImage("postgres:");
    const [mqName, mq] = serviceWithImage("rabbitmq:");
    const pgEnv = envOf(pgName);
    const mqEnv = envOf(mqName);
    let checked = 0;
    for (const [name] of ours) {
      const env = envOf(name);
      if (env.DATABASE_URL) {
        const url = new URL(env.DATABASE_URL);
        assert.equal(url.hostname, pgName, `${name}: DATABASE_URL host`);
        assert.equal(url.port || "5432", "5432", `${name}: DATABASE_URL port`);
        assert.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER, `${name}: user`);
        assert.equal(
          decodeURIComponent(url.password),
          pgEnv.POSTGRES_PASSWORD,
          `${name}: password`,
        );
        assert.equal(url.pathname.slice(1), pgEnv.POSTGRES_DB, `${name}: database`);
        checked++;
      }
      if (env.AMQP_URL) {
        const url = new URL(env.AMQP_URL);
        assert.equal(url.hostname, mqName, `${name}: AMQP_URL host`);
        assert.equal(url.port || "5672", "5672", `${name}: AMQP_URL port`);
        assert.equal(
          decodeURIComponent(url.username),
          mqEnv.RABBITMQ_DEFAULT_USER,
          `${name}: user`,
        );
        assert.equal(
          decodeURIComponent(url.password),
          mqEnv.RABBITMQ_DEFAULT_PASS,
          `${name}: password`,
        );
        const vhost = decodeURIComponent(url.pathname.slice(1)) || "/";
        assert.equal(vhost, mqEnv.RABBITMQ_DEFAULT_VHOST ?? "/", `${name}: vhost`);
        checked++;
      }
    }
    assert.ok(checked >= 6, "the services' URLs were all looked at");
    assert.ok(pg.healthcheck && mq.healthcheck);
  });

  it("publishes the api's port, and the ports it maps are the ones the roles listen on", () => {
    const listening = (name: string): number => listeningPort(roleOf(name), configOf(name));
    assert.ok(
      portsOf("api").some((p) => p.published === 8080 && p.target === listening("api")),
      "api: host port 8080 maps to API_PORT",
    );
    for (const name of ["api", "scheduler", "sender"]) {
      for (const { target } of portsOf(name)) {
        assert.equal(target, listening(name), `${name}: maps a port it does not listen on`);
      }
    }
    for (const name of ["migrate", "tests"])
      assert.deepEqual(portsOf(name), [], `${name} serves nothing`);
  });

  it("can run several schedulers and senders: no fixed host port or container name on them", () => {
    // `up --scale scheduler=2` fails on the second replica if its port is
    // published on a fixed host port ("port is already allocated").
    for (const name of ["scheduler", "sender"]) {
      for (const { published } of portsOf(name))
        assert.equal(published, undefined, `${name}: let Docker pick the host port`);
      assert.equal(
        (services[name] as Record<string, unknown>).container_name,
        undefined,
        `${name}: a container name cannot be scaled`,
      );
    }
  });

  it("health-checks each long-running role on the port it listens on", () => {
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const healthcheck = services[name]?.healthcheck;
      if (!LONG_RUNNING_ROLES.includes(role)) {
        assert.equal(healthcheck?.disable, true, `${name}: a one-shot has nothing to check`);
        continue;
      }
      assert.deepEqual(healthcheck?.test, ["CMD", "node", HEALTHCHECK_SCRIPT, role], name);
      const config = configOf(name);
      const ports = healthUrls(role, config).map((url) => Number(new URL(url).port));
      assert.deepEqual(ports, [listeningPort(role, config)], name);
      // The role listens only once its connections are up (each retried for
      // up to 60s): failures before then must not count.
      assert.ok(
        composeDuration(healthcheck?.start_period) >= connectingMs(role, config),
        `${name}: start_period`,
      );
      assert.ok(
        composeDuration(healthcheck?.timeout) >= 2500,
        `${name}: timeout leaves the probe its 2s`,
      );
    }
  });

  it("checks PostgreSQL with pg_isready as its own user and database, and RabbitMQ's listener", () => {
    const [pgName, pg] = serviceWithImage("postgres:");
    const test = pg.healthcheck?.test;
    assert.ok(Array.isArray(test) && test.includes("pg_isready"), "postgres: pg_isready");
    const pgEnv = envOf(pgName);
    assert.equal(test[test.indexOf("-U") + 1], pgEnv.POSTGRES_USER);
    assert.equal(test[test.indexOf("-d") + 1], pgEnv.POSTGRES_DB);
    const [, mq] = serviceWithImage("rabbitmq:");
    assert.ok(
      String(mq.healthcheck?.test).includes("rabbitmq-diagnostics"),
      "rabbitmq: diagnostics",
    );
  });

  it("starts each service only after what it needs is healthy or done", () => {
    const [pgName] = serviceWithImage("postgres:");
    const [mqName] = serviceWithImage("rabbitmq:");
    const migrators = roleServices.filter(([name]) => roleOf(name) === "migrate").map(([n]) => n);
    assert.deepEqual(migrators, ["migrate"]);
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const deps = dependenciesOf(name);
      if (DATABASE_ROLES.includes(role))
        assert.equal(deps[pgName], "service_healthy", `${name} → postgres`);
      if (BROKER_ROLES.includes(role))
        assert.equal(deps[mqName], "service_healthy", `${name} → rabbitmq`);
      if (DATABASE_ROLES.includes(role) && role !== "migrate") {
        assert.equal(
          deps.migrate,
          "service_completed_successfully",
          `${name}: after the migrations`,
        );
      }
    }
    const tests = dependenciesOf("tests");
    for (const name of LONG_RUNNING_ROLES)
      assert.equal(tests[name], "service_healthy", `tests → ${name}`);

    // Every condition can be met: service_healthy needs a health check,
    // service_completed_successfully a one-shot that is not restarted.
    for (const [name] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependenciesOf(name))) {
        const target = services[dep];
        assert.ok(target, `${name} depends on ${dep}, which is not a service`);
        if (condition === "service_healthy") {
          assert.ok(
            target.healthcheck?.test && !target.healthcheck.disable,
            `${dep} has a health check`,
          );
        } else if (condition === "service_completed_successfully") {
          assert.ok([undefined, "no"].includes(target.restart), `${dep} must not restart`);
        } else {
          assert.fail(`${name} → ${dep}: ${condition}; wait for healthy or completed instead`);
        }
      }
    }
  });

  it("restarts long-running services, not one-shots, and gives them time to shut down", () => {
    for (const [name, service] of Object.entries(services)) {
      const oneShot =
        name === "tests" || (ours.some(([n]) => n === name) && roleOf(name) === "migrate");
      if (oneShot) {
        assert.ok([undefined, "no"].includes(service.restart), `${name}: restart "no"`);
      } else {
        assert.ok(["always", "unless-stopped"].includes(service.restart ?? ""), `${name}: restart`);
      }
    }
    for (const [name, service] of roleServices) {
      // As PID 1, node would ignore a SIGTERM that comes before the role has
      // installed its handler (while it connects): under an init it exits.
      assert.equal(service.init, true, `${name}: runs under an init`);
    }
    for (const name of LONG_RUNNING_ROLES) {
      // Docker's SIGKILL must not come before SHUTDOWN_TIMEOUT has run out.
      const grace = composeDuration(services[name]?.stop_grace_period ?? "10s");
      assert.ok(grace > configOf(name).api.shutdownTimeoutMs, `${name}: stop_grace_period`);
    }
  });

  it("keeps PostgreSQL's and RabbitMQ's data in named volumes that `down -v` removes", () => {
    const declared = Object.keys(compose.volumes ?? {});
    const [pgName] = serviceWithImage("postgres:");
    const [mqName, mq] = serviceWithImage("rabbitmq:");
    const pgVolume = namedVolumesOf(pgName).get("/var/lib/postgresql/data");
    const mqVolume = namedVolumesOf(mqName).get("/var/lib/rabbitmq");
    assert.ok(pgVolume && declared.includes(pgVolume), "postgres: a declared named volume");
    assert.ok(mqVolume && declared.includes(mqVolume), "rabbitmq: a declared named volume");
    // RabbitMQ names its data directory after the node, and the node after
    // the host name: a random container host name would start empty each time.
    assert.ok(mq.hostname, "rabbitmq: a fixed hostname");
  });

  it("runs the integration suite only under the test profile, from the test stage", () => {
    const tests = services.tests ?? {};
    assert.deepEqual(tests.profiles, ["test"]);
    assert.equal(buildOf(tests)?.target, "test");
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    assert.deepEqual(tests.command, ["npm", "run", "test:stack"]);
    assert.ok(pkg.scripts["test:stack"], "package.json has the script the service runs");
    for (const [name, service] of Object.entries(services)) {
      if (name !== "tests")
        assert.equal(service.profiles, undefined, `${name}: starts with plain \`up\``);
    }
  });
});
