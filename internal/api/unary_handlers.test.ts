// Each unary method's requests reach the direct handler Connect's
// negotiation would pick the same protocol's handler for; everything else
// reaches Connect's handler. What the direct handlers answer is compared
// with Connect's in grpc_unary.test.ts and connect_unary.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMethodImplSpec, type MethodImplSpec } from "@connectrpc/connect";
import {
  createUniversalMethodHandler,
  type UniversalHandler,
  type UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { createHandlerFactory as connectHandlerFactory } from "@connectrpc/connect/protocol-connect";
import { createHandlerFactory as grpcHandlerFactory } from "@connectrpc/connect/protocol-grpc";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import {
  answer,
  binary,
  envelope,
  GET_EVENT_WITHOUT_SIDE_EFFECTS,
  getEvent,
  PATH,
  request,
} from "./testing/unary_cases.js";
import { serveUnaryDirectly } from "./unary_handlers.js";

const one = (id: string) => [envelope(binary(id))];

describe("serveUnaryDirectly", () => {
  const spec = createMethodImplSpec(GET_EVENT_WITHOUT_SIDE_EFFECTS, getEvent) as MethodImplSpec;
  const viaConnect: UniversalHandler = createUniversalMethodHandler(spec, [
    grpcHandlerFactory({}),
    connectHandlerFactory({}),
  ]);
  const reached: string[] = [];
  const spy = Object.assign(async (req: UniversalServerRequest) => {
    reached.push(`${req.method} ${req.header.get("content-type")}`);
    return viaConnect(req);
  }, viaConnect);
  const routed = serveUnaryDirectly(spy, { spec }, {});

  it("keeps the handler's description (path, method, protocols)", () => {
    assert.equal(routed.requestPath, PATH);
    assert.equal(routed.method, GET_EVENT_WITHOUT_SIDE_EFFECTS);
    assert.deepEqual(routed.protocolNames, viaConnect.protocolNames);
  });

  it("serves gRPC and Connect unary calls itself and hands every other request to Connect", async () => {
    reached.length = 0;
    for (const type of ["application/grpc", "application/grpc+proto", "application/GRPC+json"]) {
      const res = await answer(
        await routed(request({ headers: { "content-type": type }, chunks: one("x") })),
      );
      assert.equal(res.status, 200);
    }
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      "application/proto",
    ]) {
      const body = type.includes("json") ? Buffer.from('{"id":"j"}') : binary("j");
      const res = await answer(await routed(request({ contentType: type, chunks: [body] })));
      assert.equal(res.status, 200, type);
    }
    const get = request({
      method: "GET",
      contentType: null,
      query: `?encoding=json&message=${encodeURIComponent('{"id":"g"}')}`,
      chunks: [],
    });
    assert.equal((await answer(await routed(get))).status, 200);
    const web = request({ contentType: "application/grpc-web+proto", chunks: one("w") });
    await answer(await routed(web));
    const stream = request({ contentType: "application/connect+json", chunks: [] });
    await answer(await routed(stream));
    const put = request({ method: "PUT", contentType: "application/json", chunks: [] });
    await answer(await routed(put));
    assert.deepEqual(reached, [
      "POST application/grpc-web+proto",
      "POST application/connect+json",
      "PUT application/json",
    ]);
  });

  it("hands a GET of a method with side effects to Connect (which refuses it)", async () => {
    const create = createMethodImplSpec(
      CalendarService.method.createEvent,
      () => ({}),
    ) as MethodImplSpec;
    const viaConnectCreate = createUniversalMethodHandler(create, [connectHandlerFactory({})]);
    const seen: string[] = [];
    const spyCreate = Object.assign(async (req: UniversalServerRequest) => {
      seen.push(req.method);
      return viaConnectCreate(req);
    }, viaConnectCreate);
    const routedCreate = serveUnaryDirectly(spyCreate, { spec: create }, {});
    const res = await answer(
      await routedCreate(
        request({ method: "GET", contentType: null, query: "?encoding=json", chunks: [] }),
      ),
    );
    assert.deepEqual(seen, ["GET"]);
    assert.equal(res.status, 405);
  });

  it("leaves streaming methods, and methods it has no implementation of, to Connect", () => {
    const watch = createMethodImplSpec(CalendarSyncService.method.watchEvents, async function* () {
      yield {};
    }) as MethodImplSpec;
    assert.equal(watch.kind, "server_streaming");
    assert.equal(serveUnaryDirectly(spy, { spec: watch }, {}), spy);
    assert.equal(serveUnaryDirectly(spy, undefined, {}), spy);
  });
});
