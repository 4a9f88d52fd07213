// Unary calls of the Connect protocol (POST, and GET for methods without
// side effects), as connect-es 2.1.2 serves them, with the handler context
// of unary_call.ts (a signal made only when read).
//
// This mirrors `protocol-connect/handler-factory.ts` (createUnaryHandler,
// readUnaryMessageFromBody, readUnaryMessageFromQuery, parseUnaryMessage)
// line for line, with Connect's own helpers: the same content types and
// query parameters, timeout, compression both ways, size limits, error
// bodies and HTTP statuses, trailers as "trailer-" headers. Two things are
// left out, and the caller keeps Connect's handler for them: servers that
// require the Connect-Protocol-Version header (this one does not), and
// request bodies already parsed into JSON by a framework (ours are always
// bytes). connect_unary.test.ts sends the same requests here and to
// Connect's handler and compares the answers byte for byte.
import { base64Decode } from "@bufbuild/protobuf/wire";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createMethodSerializationLookup,
  readAllBytes,
  type UniversalHandlerOptions,
  type UniversalServerRequest,
  type UniversalServerResponse,
  uResponseMethodNotAllowed,
  uResponseOk,
  uResponseUnsupportedMediaType,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  errorToJsonBytes,
  headerContentType,
  headerTimeout,
  headerUnaryAcceptEncoding,
  headerUnaryContentLength,
  headerUnaryEncoding,
  parseContentType,
  parseTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { createUnaryContext, invokeUnary, type UnaryImplSpec, WholeBody } from "./unary_call.js";

// protocol-connect/query-params.ts and content-type.ts parseEncodingQuery (not exported).
const paramEncoding = "encoding";
const paramCompression = "compression";
const paramBase64 = "base64";
const paramMessage = "message";

function parseEncodingQuery(encoding: string | null): { binary: boolean } | undefined {
  if (encoding === "proto") return { binary: true };
  if (encoding === "json") return { binary: false };
  return undefined;
}

/**
 * Serves a unary method's Connect requests, or undefined when the options
 * ask for what this handler leaves to Connect (requireConnectProtocolHeader).
 */
export function createConnectUnaryHandler(
  spec: UnaryImplSpec,
  options: Partial<UniversalHandlerOptions>,
): ((req: UniversalServerRequest) => Promise<UniversalServerResponse>) | undefined {
  const opt = validateUniversalHandlerOptions(options);
  if (opt.requireConnectProtocolHeader) return undefined;
  const serialization = createMethodSerializationLookup(
    spec.method,
    opt.binaryOptions,
    opt.jsonOptions,
    opt,
  );
  return async function handleUnaryConnect(req) {
    const isGet = req.method === "GET";
    if (isGet && spec.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
      return uResponseMethodNotAllowed;
    }
    // Only a GET carries anything in its query; Connect parses the URL for
    // every call, which only its protocol-header check (left to it) needs.
    const queryParams = isGet ? new URL(req.url).searchParams : undefined;
    const compressionRequested = queryParams
      ? queryParams.get(paramCompression)
      : req.header.get(headerUnaryEncoding);
    const type = queryParams
      ? parseEncodingQuery(queryParams.get(paramEncoding))
      : parseContentType(req.header.get(headerContentType));
    if (type === undefined || ("stream" in type && type.stream)) {
      return uResponseUnsupportedMediaType;
    }
    const timeout = parseTimeout(req.header.get(headerTimeout), opt.maxTimeoutMs);
    const context = createUnaryContext(spec, req, {
      protocolName: "connect",
      timeoutMs: timeout.timeoutMs,
      shutdownSignal: opt.shutdownSignal,
      responseHeader: {
        [headerContentType]: type.binary ? contentTypeUnaryProto : contentTypeUnaryJson,
      },
    });
    const compression = compressionNegotiate(
      opt.acceptCompression,
      compressionRequested,
      req.header.get(headerUnaryAcceptEncoding),
      headerUnaryAcceptEncoding,
    );
    let status = uResponseOk.status;
    let body: Uint8Array;
    try {
      // Raised here to be answered as an error body, as Connect does.
      if (compression.error) throw compression.error;
      if (timeout.error) throw timeout.error;
      const reqBody = queryParams
        ? await readMessageFromQuery(opt.readMaxBytes, compression.request, queryParams)
        : await readMessageFromBody(opt.readMaxBytes, compression.request, req);
      const input = serialization.getI(type.binary).parse(reqBody);
      const output = await invokeUnary(spec, context, input, opt.interceptors);
      body = serialization.getO(type.binary).serialize(output);
    } catch (e) {
      context.abort(e);
      const error =
        e instanceof ConnectError
          ? e
          : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      status = codeToHttpStatus(error.code);
      context.responseHeader.set(headerContentType, contentTypeUnaryJson);
      error.metadata.forEach((value, key) => {
        context.responseHeader.set(key, value);
      });
      body = errorToJsonBytes(error, opt.jsonOptions);
    } finally {
      context.abort();
    }
    if (compression.response && body.byteLength >= opt.compressMinBytes) {
      body = await compression.response.compress(body);
      context.responseHeader.set(headerUnaryEncoding, compression.response.name);
    }
    const header = trailerMux(context.responseHeader, context.responseTrailer);
    header.set(headerUnaryContentLength, body.byteLength.toString(10));
    return { status, body: new WholeBody(body), header };
  };
}

async function readMessageFromBody(
  readMaxBytes: number,
  compression: Compression | null,
  req: UniversalServerRequest,
): Promise<Uint8Array> {
  const body = req.body;
  if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) {
    // A framework's parsed JSON: the router never routes those here.
    throw new ConnectError("connect_unary: request body is not a byte stream", Code.Internal);
  }
  let bytes = await readAllBytes(
    body as AsyncIterable<Uint8Array>,
    readMaxBytes,
    req.header.get(headerUnaryContentLength),
  );
  if (compression) bytes = await compression.decompress(bytes, readMaxBytes);
  return bytes;
}

async function readMessageFromQuery(
  readMaxBytes: number,
  compression: Compression | null,
  queryParams: URLSearchParams,
): Promise<Uint8Array> {
  const message = queryParams.get(paramMessage) ?? "";
  let decoded =
    queryParams.get(paramBase64) === "1"
      ? base64Decode(message)
      : new TextEncoder().encode(message);
  if (compression) decoded = await compression.decompress(decoded, readMaxBytes);
  return decoded;
}
