// Which requests the direct unary handlers take (issue 17): Connect's router
// is used as before, and each unary method's handler is wrapped so that its
// gRPC requests go to grpc_unary.ts and its Connect requests (POST, and GET
// without side effects) to connect_unary.ts, the way Connect's negotiation
// would pick its own gRPC or Connect handler for them. gRPC-Web and
// streaming methods stay with Connect.

import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  type ConnectRouter,
  createMethodImplSpec,
  createServiceImplSpec,
  type MethodImplSpec,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalHandlerOptions,
  UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { contentTypeUnaryRegExp } from "@connectrpc/connect/protocol-connect";
import { contentTypeRegExp } from "@connectrpc/connect/protocol-grpc";
import { createConnectUnaryHandler } from "./connect_unary.js";
import { createGrpcUnaryHandler } from "./grpc_unary.js";

type HandlerOptions = Partial<UniversalHandlerOptions>;

/**
 * Records what each method of the router is served with, so the unary ones
 * can be wrapped by serveUnaryDirectly once every service is registered.
 * The router is used as before; this only listens to service() and rpc().
 */
export function recordImplementations(
  router: ConnectRouter,
): Map<DescMethod, { spec: MethodImplSpec; options?: HandlerOptions }> {
  const specs = new Map<DescMethod, { spec: MethodImplSpec; options?: HandlerOptions }>();
  const service = router.service.bind(router);
  const rpc = router.rpc.bind(router);
  router.service = (desc, implementation, options) => {
    const serviceSpec = createServiceImplSpec(desc, implementation);
    for (const spec of Object.values(serviceSpec.methods)) {
      specs.set(spec.method, { spec, ...(options && { options }) });
    }
    return service(desc, implementation, options);
  };
  router.rpc = (method, implementation, options) => {
    const spec = createMethodImplSpec(method, implementation) as MethodImplSpec;
    specs.set(method, { spec, ...(options && { options }) });
    return rpc(method, implementation, options);
  };
  return specs;
}

/**
 * Wraps a method's Connect handler so that its unary gRPC and Connect
 * requests take the direct handlers (this file's and connect_unary.ts);
 * everything else (gRPC-Web, streaming methods) reaches `handler` as before.
 * `routerOptions` are the options the router was created with, merged with
 * the method's own as Connect's router merges them (router.ts whichProtocols).
 */
export function serveUnaryDirectly(
  handler: UniversalHandler,
  implemented: { spec: MethodImplSpec; options?: HandlerOptions } | undefined,
  routerOptions: HandlerOptions,
): UniversalHandler {
  if (implemented === undefined || implemented.spec.kind !== "unary") return handler;
  // Both fill in Connect's defaults for what neither sets.
  const options = { ...routerOptions, ...implemented.options };
  const grpc = createGrpcUnaryHandler(implemented.spec, options);
  const connect = createConnectUnaryHandler(implemented.spec, options) ?? handler;
  const getAllowed =
    implemented.spec.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
  const routed = (req: UniversalServerRequest) => {
    // Connect's negotiation (universal-handler.ts negotiateProtocol) gives a
    // POST to the protocol whose content type it has, and a GET (allowed
    // only without side effects) to Connect, whatever its content type.
    if (req.method === "POST") {
      const contentType = req.header.get("Content-Type") ?? "";
      if (contentTypeRegExp.test(contentType)) return grpc(req);
      if (contentTypeUnaryRegExp.test(contentType)) return connect(req);
    } else if (req.method === "GET" && getAllowed) {
      return connect(req);
    }
    return handler(req);
  };
  return Object.assign(routed, handler);
}
