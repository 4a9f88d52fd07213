// Configuration: defaults, validation, and the README's table kept true.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadConfig, redactUrl, variables } from "./config.js";

describe("configuration", () => {
  it("starts on documented defaults with no variables set", () => {
    const config = loadConfig({});
    assert.ok(config.ok);
    assert.equal(config.value.api.port, 8080);
    assert.equal(config.value.api.host, "0.0.0.0");
    assert.equal(config.value.logLevel, "info");
    assert.deepEqual(config.value.storage, {
      kind: "postgres",
      databaseUrl: undefined,
      dataDir: "./data",
      migrateOnStart: false,
      connectTimeoutMs: 60_000,
      poolMax: 10,
    });
    assert.equal(config.value.queue.amqpUrl, undefined);
    assert.equal(config.value.scheduler.retentionMs, 365 * 24 * 3600 * 1000);
  });

  it("names the variable and what it accepts when a value is bad", () => {
    const bad = loadConfig({ SCHEDULER_POLL_INTERVAL: "fast" });
    assert.ok(!bad.ok);
    assert.equal(
      String(bad.error),
      'SCHEDULER_POLL_INTERVAL must be a duration such as 500ms, 30s, 5m, 2h or 365d (got "fast")',
    );
    const amqp = loadConfig({ AMQP_URL: "http://rabbit" });
    assert.ok(!amqp.ok);
    assert.equal(amqp.error.variable, "AMQP_URL");
  });

  it("builds feed URLs on PUBLIC_URL, by default the api's own port", () => {
    const defaults = loadConfig({ API_PORT: "9090" });
    assert.ok(defaults.ok);
    assert.deepEqual(defaults.value.feed, {
      publicUrl: "http://localhost:9090",
      pastMs: 90 * 24 * 3600 * 1000,
      key: undefined,
    });
    const set = loadConfig({
      PUBLIC_URL: "https://cal.example.com/api/",
      FEED_PAST: "30d",
      FEED_KEY: "k".repeat(32),
    });
    assert.ok(set.ok);
    assert.equal(set.value.feed.publicUrl, "https://cal.example.com/api");
    assert.equal(set.value.feed.pastMs, 30 * 24 * 3600 * 1000);
    for (const [variable, value] of [
      ["PUBLIC_URL", "ftp://cal.example.com"],
      ["PUBLIC_URL", "https://cal.example.com/?x=1"],
      ["FEED_KEY", "short"],
    ]) {
      const bad = loadConfig({ [variable as string]: value });
      assert.ok(!bad.ok, `${variable}=${value} should be refused`);
      assert.equal(bad.error.variable, variable);
      // A key is never echoed back.
      if (variable === "FEED_KEY") assert.ok(!String(bad.error).includes("short"));
    }
  });

  it("never shows a password in a redacted URL", () => {
    assert.equal(redactUrl("postgres://cal:s3cret@db:5432/cal"), "postgres://cal:***@db:5432/cal");
    assert.equal(redactUrl("amqp://guest:guest@127.0.0.1:5672"), "amqp://guest:***@127.0.0.1:5672");
  });

  it("documents every variable in the README with its default", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const variable of variables) {
      const shown = variable.default.startsWith("(")
        ? variable.default.slice(1, -1)
        : `\`${variable.default}\``;
      assert.ok(
        readme.includes(`| \`${variable.name}\` | ${shown} |`),
        `README's configuration table lacks ${variable.name} with default ${shown}`,
      );
    }
  });
});
