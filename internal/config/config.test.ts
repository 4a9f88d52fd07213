// Configuration: defaults, bounds, the messages a bad value gets, and the
// README's settings table kept equal to the declarations.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadConfig, redactUrl, settingList } from "./config.js";
import { MAX_TIMER_MS } from "./parsers.js";
import { settingsTable, TABLE_END, TABLE_START } from "./settings_table.js";

function refusal(env: Record<string, string>): { variable: string; message: string } {
  const result = loadConfig(env);
  assert.ok(!result.ok, `${JSON.stringify(env)} was accepted`);
  return result.error;
}

describe("configuration", () => {
  it("starts on documented defaults with no variables set", () => {
    const config = loadConfig({});
    assert.ok(config.ok);
    assert.deepEqual(config.value, {
      api: { host: "0.0.0.0", port: 8080, shutdownTimeoutMs: 10_000, watchHeartbeatMs: 15_000 },
      logLevel: "info",
      logFormat: "auto",
      storage: {
        kind: "postgres",
        databaseUrl: undefined,
        dataDir: "./data",
        migrateOnStart: false,
        connectTimeoutMs: 60_000,
        poolMax: 10,
      },
      queue: {
        amqpUrl: undefined,
        names: {
          notificationsExchange: "cal.notifications",
          notificationsQueue: "cal.notifications",
          deadLetterExchange: "cal.dead-letter",
          deadLetterQueue: "cal.notifications.dead",
          statusExchange: "cal.status",
        },
        connectTimeoutMs: 60_000,
        senderPrefetch: 200,
        senderPort: 8082,
      },
      scheduler: {
        port: 8081,
        pollIntervalMs: 250,
        batchSize: 500,
        parallelPasses: 4,
        retentionMs: 365 * 24 * 3600 * 1000,
        tombstoneRetentionMs: 30 * 24 * 3600 * 1000,
        cleanupIntervalMs: 3_600_000,
        cleanupBatchSize: 1000,
      },
    });
  });

  it("reads every queue variable", () => {
    const config = loadConfig({
      AMQP_URL: "amqps://user:secret@rabbit.example:5671/cal",
      AMQP_CONNECT_TIMEOUT: "5s",
      AMQP_NOTIFICATIONS_EXCHANGE: "n.x",
      AMQP_NOTIFICATIONS_QUEUE: "n.q",
      AMQP_DEAD_LETTER_EXCHANGE: "d.x",
      AMQP_DEAD_LETTER_QUEUE: "d.q",
      AMQP_STATUS_EXCHANGE: "s.x",
      SENDER_PREFETCH: "7",
      SENDER_PORT: "9000",
    });
    assert.ok(config.ok);
    assert.deepEqual(config.value.queue, {
      amqpUrl: "amqps://user:secret@rabbit.example:5671/cal",
      names: {
        notificationsExchange: "n.x",
        notificationsQueue: "n.q",
        deadLetterExchange: "d.x",
        deadLetterQueue: "d.q",
        statusExchange: "s.x",
      },
      connectTimeoutMs: 5000,
      senderPrefetch: 7,
      senderPort: 9000,
    });
  });

  it("names the variable and what it accepts when a value is bad", () => {
    assert.equal(
      String(refusal({ SCHEDULER_POLL_INTERVAL: "fast" })),
      'SCHEDULER_POLL_INTERVAL must be a duration from 10ms to 30s, such as 500ms, 30s, 5m, 2h or 7d (got "fast")',
    );
    assert.equal(
      String(refusal({ API_PORT: "eighty" })),
      'API_PORT must be an integer from 0 to 65535 (got "eighty")',
    );
  });

  for (const [env, variable, message] of [
    [{ AMQP_URL: "postgres://x@y/z" }, "AMQP_URL", /amqp:\/\/ or amqps:\/\//],
    [{ AMQP_URL: "not a url" }, "AMQP_URL", /must be a URL/],
    [{ AMQP_URL: "amqp://" }, "AMQP_URL", /must name a host/],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL", /postgres:\/\/ or postgresql:\/\//],
    [{ DB_MIGRATE: "maybe" }, "DB_MIGRATE", /true or false/],
    [{ SENDER_PREFETCH: "0" }, "SENDER_PREFETCH", /integer from 1/],
    [{ SENDER_PORT: "70000" }, "SENDER_PORT", /integer from 0 to 65535/],
    [{ AMQP_CONNECT_TIMEOUT: "soon" }, "AMQP_CONNECT_TIMEOUT", /duration/],
    [{ AMQP_STATUS_EXCHANGE: "amq.fanout" }, "AMQP_STATUS_EXCHANGE", /reserved/],
    [{ AMQP_NOTIFICATIONS_QUEUE: "has space" }, "AMQP_NOTIFICATIONS_QUEUE", /letters, digits/],
    [{ AMQP_DEAD_LETTER_EXCHANGE: "cal.notifications" }, "AMQP_DEAD_LETTER_EXCHANGE", /differ/],
    [{ AMQP_STATUS_EXCHANGE: "cal.dead-letter" }, "AMQP_STATUS_EXCHANGE", /differ/],
    [{ AMQP_DEAD_LETTER_QUEUE: "cal.notifications" }, "AMQP_DEAD_LETTER_QUEUE", /differ/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}, naming ${variable}`, () => {
      const error = refusal(env);
      assert.equal(error.variable, variable);
      assert.match(error.message, message);
    });
  }

  it("never shows a password in a redacted URL", () => {
    assert.equal(redactUrl("postgres://cal:s3cret@db:5432/cal"), "postgres://cal:***@db:5432/cal");
    assert.equal(redactUrl("amqp://guest:guest@127.0.0.1:5672"), "amqp://guest:***@127.0.0.1:5672");
  });
});

describe("duration bounds", () => {
  // Node fires a longer timer after 1 ms: CLEANUP_INTERVAL=30d would run the
  // cleanup in a tight loop and SHUTDOWN_TIMEOUT=30d would exit at once.
  for (const [variable, tooLong, range] of [
    ["CLEANUP_INTERVAL", "30d", "from 1s to 1d"],
    ["SHUTDOWN_TIMEOUT", "30d", "from 1s to 10m"],
    ["SCHEDULER_POLL_INTERVAL", "1m", "from 10ms to 30s"],
    ["DB_CONNECT_TIMEOUT", "2h", "from 1s to 1h"],
    ["AMQP_CONNECT_TIMEOUT", "2h", "from 1s to 1h"],
    ["RETENTION", "36501d", "from 1d to 36500d"],
  ] as const) {
    it(`refuses ${variable}=${tooLong} and 0ms, giving the range ${range}`, () => {
      for (const value of [tooLong, "0ms"]) {
        const error = refusal({ [variable]: value });
        assert.equal(error.variable, variable);
        assert.equal(error.message, `must be a duration ${range} (got "${value}")`);
      }
    });
  }

  it("accepts each bound itself", () => {
    const config = loadConfig({ SCHEDULER_POLL_INTERVAL: "10ms", CLEANUP_INTERVAL: "1d" });
    assert.ok(config.ok);
    assert.equal(config.value.scheduler.pollIntervalMs, 10);
    assert.equal(config.value.scheduler.cleanupIntervalMs, 86_400_000);
  });

  it("gives every duration a minimum above 0 and, for timers, a maximum Node can honour", () => {
    const durations = settingList.filter((s) => s.parser.accepts.startsWith("a duration"));
    assert.ok(durations.length >= 6);
    for (const s of durations) {
      assert.equal(refusal({ [s.name]: "0ms" }).variable, s.name, `${s.name} accepts 0ms`);
      if (s.name === "RETENTION" || s.name === "TOMBSTONE_RETENTION") continue; // ages, never timers
      const tooLong = `${MAX_TIMER_MS + 1}ms`;
      assert.equal(refusal({ [s.name]: tooLong }).variable, s.name, `${s.name} accepts ${tooLong}`);
    }
  });
});

describe("settings declarations", () => {
  it("the README's settings table is the one the declarations give (npm run settings:readme)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    assert.ok(start >= 0 && end > start, "README has the settings markers");
    assert.equal(
      readme.slice(start + TABLE_START.length, end).trim(),
      settingsTable(),
      "README's settings table is stale: run `npm run settings:readme`",
    );
  });

  it("every default is a value its own parser accepts, and every doc is one line", () => {
    for (const s of settingList) {
      assert.ok(s.doc.length > 0 && !s.doc.includes("\n"), s.name);
      if (s.default !== undefined) assert.ok(s.parser.parse(s.default).ok, s.name);
    }
  });

  it("config is a leaf: it imports only its own files and the domain's Result", () => {
    const dir = new URL("./", import.meta.url);
    for (const file of readdirSync(dir).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
    )) {
      const source = readFileSync(new URL(file, dir), "utf8");
      for (const [, from] of source.matchAll(/from "([^"]+)"/g)) {
        assert.ok(
          from?.startsWith("./") || from === "../domain/result.js",
          `internal/config/${file} imports ${from}`,
        );
      }
    }
  });
});
