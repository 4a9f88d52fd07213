// Request bodies that Connect would answer with INTERNAL although the caller
// is at fault: refused with INVALID_ARGUMENT instead.
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type DescMessage, fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createAsyncIterable,
  type UniversalHandler,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { MAX_REQUEST_BYTES } from "./limits.js";

/**
 * Connect answers a binary body that does not decode (truncated, a bad tag,
 * invalid UTF-8 in a string) and a compressed message it cannot decompress
 * with INTERNAL, as if the server had failed; and a gRPC(-Web) JSON message
 * whose parse error quotes half a surrogate pair crashes its trailer
 * encoding (encodeURIComponent), leaving an empty response without
 * grpc-status. All of these are the caller's fault, and are refused with
 * INVALID_ARGUMENT and a message that is well-formed text.
 *
 * The common cases cost nothing extra: uncompressed Connect JSON is left to
 * Connect, which refuses bad JSON with INVALID_ARGUMENT itself; an
 * uncompressed binary body over gRPC or Connect is decoded by Connect, and
 * only its answer is relabelled when it is one of its INTERNAL decoding
 * errors (by then a unary call's gRPC trailers are set and a Connect error
 * body is complete). The rest (JSON in gRPC envelopes, compressed bodies,
 * gRPC-Web, whose status travels inside the body) is decoded here first,
 * within the size limit (larger bodies are left to Connect's
 * RESOURCE_EXHAUSTED).
 */
export function refuseUndecodableBinary(handler: UniversalHandler): UniversalHandler {
  // A stream of requests (server reflection) is a conversation: reading it
  // to the end before answering would stall the client waiting for replies.
  const kind = handler.method.methodKind;
  if (kind === "client_streaming" || kind === "bidi_streaming") return handler;
  const schema = handler.method.input;
  const checked = async (req: UniversalServerRequest) => {
    const framing = bodyFraming(req.header.get("content-type"));
    const body = req.body;
    if (framing === undefined || !isAsyncIterable(body)) return handler(req);
    const compressed = namesCompression(req, framing);
    // Connect JSON, uncompressed: Connect answers a bad body with
    // INVALID_ARGUMENT itself; nothing to check, and no second pass over
    // the body on the most common path.
    if (!framing.enveloped && !framing.binary && !compressed) return handler(req);
    if (framing.binary && framing.protocol !== "grpc-web" && !compressed) {
      return relabelDecodingError(await handler(req), framing, schema);
    }
    return handler({ ...req, body: checkedBody(body, framing, schema, req.header) });
  };
  return Object.assign(checked, handler);
}

/** How a request body carries its message: bare (Connect) or enveloped (gRPC, gRPC-Web). */
interface BodyFraming {
  protocol: "connect" | "grpc" | "grpc-web";
  enveloped: boolean;
  binary: boolean;
}

function bodyFraming(contentType: string | null): BodyFraming | undefined {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type === "application/proto") return { protocol: "connect", enveloped: false, binary: true };
  if (type === "application/json") return { protocol: "connect", enveloped: false, binary: false };
  const grpc = type && /^application\/grpc(-web)?(\+proto|\+json)?$/.exec(type);
  if (grpc) {
    const protocol = grpc[1] ? "grpc-web" : "grpc";
    return { protocol, enveloped: true, binary: grpc[2] !== "+json" };
  }
  return undefined;
}

function isIdentity(encoding: string | null): boolean {
  return encoding === null || encoding === "" || encoding === "identity";
}

function namesCompression(req: UniversalServerRequest, framing: BodyFraming): boolean {
  return !isIdentity(req.header.get(framing.enveloped ? "grpc-encoding" : "content-encoding"));
}

/**
 * The caller's-fault message for one of Connect's INTERNAL errors about an
 * uncompressed binary request, or undefined for any other error. The texts
 * are connect-es 2.1's own (protocol/serialization.ts "parse binary: ...",
 * protocol/envelope.ts for a compressed flag without an encoding): Connect
 * gives no code or type to tell them apart from a handler's INTERNAL
 * (connectrpc/connect-go#595 is why they are INTERNAL). If a Connect
 * upgrade changes them, refuse_undecodable.test.ts fails: every case there
 * expects INVALID_ARGUMENT.
 */
function callerFaultMessage(message: string, schema: DescMessage): string | undefined {
  const parse = /^parse binary: ([\s\S]*)$/.exec(message);
  if (parse) return `the request is not a valid ${schema.typeName}: ${parse[1]}`.toWellFormed();
  if (message === "received compressed envelope, but do not know how to decompress") {
    return "the message is flagged compressed but the request names no grpc-encoding";
  }
  return undefined;
}

async function relabelDecodingError(
  res: UniversalServerResponse,
  framing: BodyFraming,
  schema: DescMessage,
): Promise<UniversalServerResponse> {
  if (framing.protocol === "grpc") {
    const trailer = res.trailer;
    if (trailer?.get("grpc-status") !== String(Code.Internal)) return res;
    let message: string;
    try {
      message = decodeURIComponent(trailer.get("grpc-message") ?? "");
    } catch {
      return res;
    }
    const relabelled = callerFaultMessage(message, schema);
    if (relabelled === undefined) return res;
    trailer.set("grpc-status", String(Code.InvalidArgument));
    trailer.set("grpc-message", encodeURIComponent(relabelled));
    return res;
  }
  // Connect unary: an error is a complete JSON body with an HTTP status.
  if (res.status !== 500 || !isAsyncIterable(res.body)) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let error: { code?: unknown; message?: unknown } = {};
  try {
    error = JSON.parse(bytes.toString("utf8"));
  } catch {}
  const relabelled =
    error.code === "internal" && typeof error.message === "string"
      ? callerFaultMessage(error.message, schema)
      : undefined;
  if (relabelled === undefined) return { ...res, body: createAsyncIterable([bytes]) };
  const body = Buffer.from(JSON.stringify({ code: "invalid_argument", message: relabelled }));
  const header = new Headers(res.header);
  header.set("content-length", String(body.byteLength));
  return { ...res, status: 400, header, body: createAsyncIterable([body]) };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function* checkedBody(
  body: AsyncIterable<Uint8Array>,
  framing: BodyFraming,
  schema: DescMessage,
  header: Headers,
): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const it = body[Symbol.asyncIterator]();
  for (let next = await it.next(); !next.done; next = await it.next()) {
    chunks.push(next.value);
    size += next.value.byteLength;
    if (size > MAX_REQUEST_BYTES + 5) {
      // Too large anyway: Connect refuses it, but decodes the envelopes
      // before the one that does not fit.
      if (framing.enveloped) {
        checkEnvelopes(Buffer.concat(chunks), schema, framing.binary, header.get("grpc-encoding"));
      }
      yield* chunks;
      yield* { [Symbol.asyncIterator]: () => it };
      return;
    }
  }
  const bytes = Buffer.concat(chunks);
  if (framing.enveloped) {
    checkEnvelopes(bytes, schema, framing.binary, header.get("grpc-encoding"));
  } else {
    const encoding = header.get("content-encoding");
    const data = isIdentity(encoding) ? bytes : decompress(bytes, encoding);
    // Connect's own JSON errors are fine in a Connect (JSON) error body.
    if (data !== undefined && framing.binary) decodeOrRefuse(schema, data, true);
  }
  yield bytes;
}

function checkEnvelopes(
  bytes: Buffer,
  schema: DescMessage,
  binary: boolean,
  encoding: string | null,
): void {
  // Incomplete envelopes are left to Connect, which refuses them itself.
  for (let at = 0; at + 5 <= bytes.length; ) {
    const flags = bytes.readUInt8(at);
    const end = at + 5 + bytes.readUInt32BE(at + 1);
    if (end > bytes.length) return;
    let data: Uint8Array = bytes.subarray(at + 5, end);
    if (flags & 0b1) {
      const decompressed = decompress(data, encoding);
      if (decompressed === undefined) return; // too large: Connect says so
      data = decompressed;
    }
    decodeOrRefuse(schema, data, binary);
    at = end;
  }
}

function decompress(data: Uint8Array, encoding: string | null): Uint8Array | undefined {
  const options = { maxOutputLength: MAX_REQUEST_BYTES };
  try {
    if (encoding === "gzip") return gunzipSync(data, options);
    if (encoding === "br") return brotliDecompressSync(data, options);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") return undefined;
    throw new ConnectError(
      `decompress ${encoding}: the message is not valid`,
      Code.InvalidArgument,
    );
  }
  if (isIdentity(encoding)) {
    throw new ConnectError(
      "the message is flagged compressed but the request names no grpc-encoding",
      Code.InvalidArgument,
    );
  }
  // Connect refuses encodings it does not support before reading the body.
  return undefined;
}

function decodeOrRefuse(schema: DescMessage, data: Uint8Array, binary: boolean): void {
  try {
    if (binary) fromBinary(schema, data);
    // As Connect reads it: lenient UTF-8, unknown fields ignored.
    else fromJsonString(schema, new TextDecoder().decode(data), { ignoreUnknownFields: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectError(
      `the request is not a valid ${schema.typeName}: ${reason}`.toWellFormed(),
      Code.InvalidArgument,
    );
  }
}
