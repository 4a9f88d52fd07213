import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultNames, loadQueueConfig, queueVariables } from "./config.js";

describe("loadQueueConfig", () => {
  it("defaults to the in-process queue and the documented names", () => {
    assert.deepEqual(loadQueueConfig({}), {
      ok: true,
      value: {
        amqpUrl: undefined,
        names: defaultNames,
        connectTimeoutMs: 60_000,
        senderPrefetch: 200,
        senderPort: 8082,
      },
    });
  });

  it("reads every variable", () => {
    const result = loadQueueConfig({
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
    assert.deepEqual(result, {
      ok: true,
      value: {
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
      },
    });
  });

  for (const [env, variable, message] of [
    [{ AMQP_URL: "postgres://x@y/z" }, "AMQP_URL", /amqp:\/\/ or amqps:\/\//],
    [{ AMQP_URL: "not a url" }, "AMQP_URL", /must be a URL/],
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
      const result = loadQueueConfig(env);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.variable, variable);
      assert.match(result.error.message, message);
    });
  }

  it("documents every variable it reads", () => {
    assert.deepEqual(queueVariables.map((v) => v.name).sort(), [
      "AMQP_CONNECT_TIMEOUT",
      "AMQP_DEAD_LETTER_EXCHANGE",
      "AMQP_DEAD_LETTER_QUEUE",
      "AMQP_NOTIFICATIONS_EXCHANGE",
      "AMQP_NOTIFICATIONS_QUEUE",
      "AMQP_STATUS_EXCHANGE",
      "AMQP_URL",
      "SENDER_PORT",
      "SENDER_PREFETCH",
    ]);
  });
});
