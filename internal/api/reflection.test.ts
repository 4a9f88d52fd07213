import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { startTestServer, type TestServer } from "./testing/test_server.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const run = promisify(execFile);

/** buf curl without --schema: everything it knows comes from reflection. */
async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(BUF, ["curl", "--http2-prior-knowledge", ...args], {
    timeout: 60_000,
  });
  return stdout;
}

describe("server reflection", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    test(`buf curl --list-methods discovers the API over ${reflectProtocol}`, async () => {
      const out = await bufCurl([
        "--reflect-protocol",
        reflectProtocol,
        "--list-methods",
        server.url,
      ]);
      const methods = out.trim().split("\n");
      for (const method of [
        "calendar.v1.CalendarService/CreateEvent",
        "calendar.v1.CalendarService/ListMonthEvents",
        "grpc.health.v1.Health/Check",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]) {
        assert.ok(methods.includes(method), `${method} missing from:\n${out}`);
      }
    });
  }

  test("buf curl calls an RPC with no schema but what reflection gives it", async () => {
    const created = JSON.parse(
      await bufCurl([
        "--protocol",
        "grpc",
        "-H",
        "x-user-id: alice",
        "-d",
        JSON.stringify({
          event: { title: "Standup", startTime: "2026-12-01T09:00:00Z", duration: "900s" },
        }),
        `${server.url}/calendar.v1.CalendarService/CreateEvent`,
      ]),
    );
    assert.equal(created.event.title, "Standup");
    assert.equal(created.event.startTime, "2026-12-01T09:00:00Z"); // the Timestamp import resolved
    const listed = JSON.parse(
      await bufCurl([
        "-H",
        "x-user-id: alice",
        "-d",
        '{"date":"2026-12-01"}',
        `${server.url}/calendar.v1.CalendarService/ListDayEvents`,
      ]),
    );
    assert.deepEqual(
      listed.events.map((e: { id: string }) => e.id),
      [created.event.id],
    );
  });

  /** One reflection stream; each request is sent after the previous answer arrived. */
  async function converse(
    requests: ServerReflectionRequest["messageRequest"][],
    useBinaryFormat = true,
  ): Promise<ServerReflectionResponse[]> {
    const client = createClient(
      ServerReflection,
      createGrpcTransport({ baseUrl: server.url, useBinaryFormat }),
    );
    const answers: ServerReflectionResponse[] = [];
    let answered: () => void = () => {};
    async function* send() {
      for (const messageRequest of requests) {
        const next = new Promise<void>((resolve) => {
          answered = resolve;
        });
        yield create(ServerReflectionRequestSchema, { host: "h", messageRequest });
        await next;
      }
    }
    for await (const response of client.serverReflectionInfo(send())) {
      answers.push(response);
      answered();
    }
    return answers;
  }

  const fileNames = (response: ServerReflectionResponse | undefined) => {
    assert.equal(response?.messageResponse.case, "fileDescriptorResponse");
    return response.messageResponse.value.fileDescriptorProto.map(
      (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
    );
  };

  test("a symbol's file comes with its imports, each sent once per stream", async () => {
    const [method, type, again] = await converse([
      { case: "fileContainingSymbol", value: "calendar.v1.CalendarService.GetEvent" },
      { case: "fileContainingSymbol", value: "calendar.v1.Event" },
      { case: "fileByFilename", value: "google/protobuf/timestamp.proto" },
    ]);
    assert.deepEqual(fileNames(method).sort(), [
      "calendar/v1/calendar.proto",
      "calendar/v1/interop.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
    ]);
    assert.equal(fileNames(method)[0], "calendar/v1/calendar.proto");
    assert.deepEqual(fileNames(type), ["calendar/v1/calendar.proto"]);
    assert.deepEqual(fileNames(again), ["google/protobuf/timestamp.proto"]);
    assert.equal(method?.validHost, "h");
  });

  test("the descriptor sent is the whole file: messages, fields and services", async () => {
    const [response] = await converse([
      { case: "fileByFilename", value: "calendar/v1/calendar.proto" },
    ]);
    assert.equal(response?.messageResponse.case, "fileDescriptorResponse");
    const bytes = response.messageResponse.value.fileDescriptorProto[0];
    assert.ok(bytes);
    const file = fromBinary(FileDescriptorProtoSchema, bytes);
    assert.equal(file.package, "calendar.v1");
    assert.deepEqual(file.dependency, [
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "calendar/v1/interop.proto",
    ]);
    const event = file.messageType.find((m) => m.name === "Event");
    assert.ok(event?.field.some((f) => f.name === "notify_before" && f.number === 7));
    assert.deepEqual(
      file.service[0]?.method.map((m) => m.name),
      CalendarService.methods.map((m) => m.name),
    );
  });

  test("a conversation in JSON messages is answered request by request, not stalled", {
    timeout: 20_000,
  }, async () => {
    // Each request waits for the previous answer: a server that read the
    // whole request stream before answering would never answer.
    const answers = await converse(
      [
        { case: "listServices", value: "" },
        { case: "fileContainingSymbol", value: "grpc.health.v1.Health" },
      ],
      false,
    );
    assert.deepEqual(
      answers.map((a) => a.messageResponse.case),
      ["listServicesResponse", "fileDescriptorResponse"],
    );
  });

  test("unknown names and empty requests get an error answer, and the stream goes on", async () => {
    const answers = await converse([
      { case: "fileContainingSymbol", value: "calendar.v1.Nope" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: undefined, value: undefined },
      { case: "listServices", value: "" },
    ]);
    const errors = answers.slice(0, 3).map((a) => {
      assert.equal(a.messageResponse.case, "errorResponse");
      return a.messageResponse.value.errorCode;
    });
    assert.deepEqual(errors, [5, 5, 3]); // NOT_FOUND, NOT_FOUND, INVALID_ARGUMENT
    assert.equal(answers[3]?.messageResponse.case, "listServicesResponse");
  });
});
