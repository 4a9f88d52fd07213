// A load generator's client for unary RPCs, written against the wire
// protocols with node:http and node:http2 directly: the request is encoded
// and the response checked (HTTP status, grpc-status) and decoded like any
// client does, without the per-call machinery of a full RPC client
// (interceptor chain, abort signals, async iterables). On a small machine
// the load generator shares the cores with the api; the lighter it is, the
// more of them the api gets (`npm run bench -- --client lean`), as with
// ghz or h2load.
import http from "node:http";
import http2 from "node:http2";
import {
  create,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  fromJsonString,
  type MessageInitShape,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";

export type UnaryCall = (
  method: DescMethodUnary,
  input: MessageInitShape<DescMethodUnary["input"]>,
  headers: Record<string, string>,
) => Promise<unknown>;

export interface LeanClient {
  call: UnaryCall;
  close(): void;
}

const path = (method: DescMethodUnary) => `/${method.parent.typeName}/${method.name}`;

/** gRPC over one h2c connection (prior knowledge), as Connect's gRPC transport uses one. */
export function leanGrpcClient(baseUrl: string): LeanClient {
  let session: http2.ClientHttp2Session | undefined;
  const connect = () => {
    if (session && !session.closed && !session.destroyed) return session;
    const opened = http2.connect(baseUrl);
    opened.on("error", () => {}); // surfaces on the streams
    opened.on("close", () => {
      if (session === opened) session = undefined;
    });
    session = opened;
    return opened;
  };
  return {
    call(method, input, headers) {
      const message = toBinary(method.input, create(method.input, input));
      const frame = Buffer.allocUnsafe(5 + message.byteLength);
      frame.writeUInt8(0, 0);
      frame.writeUInt32BE(message.byteLength, 1);
      frame.set(message, 5);
      return new Promise((resolve, reject) => {
        const stream = connect().request({
          ":method": "POST",
          ":path": path(method),
          "content-type": "application/grpc",
          te: "trailers",
          ...headers,
        });
        const chunks: Buffer[] = [];
        let status: string | undefined;
        let grpcMessage = "";
        const takeStatus = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] !== undefined) {
            status = String(h["grpc-status"]);
            grpcMessage = decodeURIComponent(String(h["grpc-message"] ?? ""));
          }
        };
        stream.on("response", takeStatus); // a trailers-only answer
        stream.on("trailers", takeStatus);
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("close", () => {
          if (status !== "0") {
            reject(new Error(`grpc-status ${status ?? "missing"}: ${grpcMessage}`));
            return;
          }
          const body = Buffer.concat(chunks);
          try {
            resolve(fromBinary(method.output, body.subarray(5, 5 + body.readUInt32BE(1))));
          } catch (error) {
            reject(error);
          }
        });
        stream.end(frame);
      });
    },
    close: () => session?.close(),
  };
}

/** Connect JSON over HTTP/1.1 keep-alive connections, one per call in flight. */
export function leanConnectJsonClient(baseUrl: string): LeanClient {
  const agent = new http.Agent({ keepAlive: true });
  return {
    call(method, input, headers) {
      const body = Buffer.from(toJsonString(method.input, create(method.input, input)));
      return new Promise((resolve, reject) => {
        const req = http.request(new URL(path(method), baseUrl), {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": String(body.byteLength),
            ...headers,
          },
        });
        req.on("error", reject);
        req.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 200) {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
              return;
            }
            try {
              resolve(fromJsonString(method.output, text, { ignoreUnknownFields: true }));
            } catch (error) {
              reject(error);
            }
          });
        });
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The unary method `name` of `service`. */
export function unaryMethod(service: DescService, name: string): DescMethodUnary {
  const method = service.methods.find((m) => m.name === name);
  if (method?.methodKind !== "unary") throw new Error(`${service.typeName}/${name}: not unary`);
  return method as DescMethodUnary;
}
