// Unary gRPC calls served without Connect's streaming pipeline (issue 17).
//
// connect-es serves every gRPC call as a stream, unary ones too: the body
// passes through seven async-iterable transforms (split envelopes, decompress,
// parse, invoke, serialize, compress, join) and a catch-all, each a
// down-compiled async generator that costs a few promises per step. On the
// api's profile (GetEvent over gRPC at c=64) that pipeline and the garbage it
// leaves were the largest share of the server's CPU per call after Node's own
// HTTP/2 code.
//
// This handler mirrors connect-es 2.1.2's `protocol-grpc/handler-factory.ts`
// (createHandler) for methods of kind "unary", step by step and with
// Connect's own helpers for each step: the same content types, grpc-timeout,
// compression negotiation, size limits, interceptors and handler context
// (unary_call.ts: Connect's, with a signal made only when read), the same
// error texts and trailers. Only the plumbing between the steps is direct,
// as connect-es already does it for the Connect protocol's unary calls
// (`protocol-connect/handler-factory.ts`, createUnaryHandler, which
// connect_unary.ts mirrors). unary_handlers.ts sends it the requests
// Connect's negotiation would give its gRPC handler. grpc_unary.test.ts
// sends the same requests to this handler and to Connect's and compares the
// answers byte for byte.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  assertByteStreamRequest,
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  createMethodSerializationLookup,
  encodeEnvelope,
  envelopeCompress,
  envelopeDecompress,
  type UniversalHandlerOptions,
  type UniversalServerRequest,
  type UniversalServerResponse,
  uResponseOk,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  contentTypeJson,
  contentTypeProto,
  grpcStatusOk,
  headerAcceptEncoding,
  headerContentType,
  headerEncoding,
  headerGrpcStatus,
  headerTimeout,
  parseContentType,
  parseTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { createUnaryContext, invokeUnary, type UnaryImplSpec, WholeBody } from "./unary_call.js";

type HandlerOptions = Partial<UniversalHandlerOptions>;

/**
 * Serves a unary method's gRPC requests; the caller sends only POST requests
 * whose content type is gRPC's (Connect's negotiation would pick the gRPC
 * handler for exactly those).
 */
export function createGrpcUnaryHandler(
  spec: UnaryImplSpec,
  options: HandlerOptions,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse> {
  const opt = validateUniversalHandlerOptions(options);
  const serialization = createMethodSerializationLookup(
    spec.method,
    opt.binaryOptions,
    opt.jsonOptions,
    opt,
  );
  return async function handleUnaryGrpc(req) {
    assertByteStreamRequest(req);
    const type = parseContentType(req.header.get(headerContentType));
    if (type === undefined) throw new Error("not a gRPC request: route it to Connect's handler");
    const timeout = parseTimeout(req.header.get(headerTimeout), opt.maxTimeoutMs);
    const context = createUnaryContext(spec, req, {
      protocolName: "grpc",
      timeoutMs: timeout.timeoutMs,
      shutdownSignal: opt.shutdownSignal,
      responseHeader: { [headerContentType]: type.binary ? contentTypeProto : contentTypeJson },
      responseTrailer: { [headerGrpcStatus]: grpcStatusOk },
    });
    const compression = compressionNegotiate(
      opt.acceptCompression,
      req.header.get(headerEncoding),
      req.header.get(headerAcceptEncoding),
      headerAcceptEncoding,
    );
    if (compression.response) {
      context.responseHeader.set(headerEncoding, compression.response.name);
    }
    let body: Uint8Array | undefined;
    try {
      // Raised before the body is read, as Connect's transformPrepend does.
      if (compression.error) throw compression.error;
      if (timeout.error) throw timeout.error;
      const parse = serialization.getI(type.binary);
      const input = await readSingleMessage(
        req.body,
        opt.readMaxBytes,
        compression.request,
        (data) => parse.parse(data),
      );
      const output = await invokeUnary(spec, context, input, opt.interceptors);
      const envelope = await envelopeCompress(
        { flags: 0, data: serialization.getO(type.binary).serialize(output) },
        compression.response,
        opt.compressMinBytes,
      );
      body = encodeEnvelope(envelope.flags, envelope.data);
    } catch (e) {
      // transformCatchFinally's rule: the status travels in the trailers.
      context.abort(e);
      setTrailerStatus(
        context.responseTrailer,
        e instanceof ConnectError
          ? e
          : new ConnectError("internal error", Code.Internal, undefined, undefined, e),
      );
    } finally {
      context.abort();
    }
    return {
      ...uResponseOk,
      body: body === undefined ? createAsyncIterable([]) : new WholeBody(body),
      header: context.responseHeader,
      trailer: context.responseTrailer,
    };
  };
}

/**
 * Reads the request's one message, with the checks and errors of Connect's
 * transformSplitEnvelope, transformDecompressEnvelope, transformParseEnvelope
 * and ensureSingle, in their order: each envelope is decompressed and parsed
 * as soon as it is complete, a length above readMaxBytes is refused at the
 * envelope's header (before the rest of the body is read), a second message
 * is refused after it was parsed, and bytes left over are an incomplete
 * envelope.
 */
async function readSingleMessage<T>(
  body: AsyncIterable<Uint8Array>,
  readMaxBytes: number,
  compression: Compression | null,
  parse: (data: Uint8Array) => T,
): Promise<T> {
  const envelopes = new EnvelopeSplitter(readMaxBytes);
  let message: { value: T } | undefined;
  for await (const chunk of body) {
    for (const envelope of envelopes.push(chunk)) {
      const { data } = await envelopeDecompress(envelope, compression, readMaxBytes);
      const value = parse(data);
      if (message !== undefined) {
        throw new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      message = { value };
    }
  }
  if (envelopes.pendingBytes > 0) {
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  if (message === undefined) {
    throw new ConnectError(
      "protocol error: missing input message for unary method",
      Code.Unimplemented,
    );
  }
  return message.value;
}

/** Splits a byte stream into gRPC envelopes (Connect's EnvelopeDecoderImpl, not exported). */
class EnvelopeSplitter {
  /** Bytes received and not yet split off; joined only once an envelope's header or body is complete. */
  private chunks: Buffer[] = [];
  private received = 0;
  /** The length announced by the header at the front of `chunks`, once checked. */
  private announced: number | undefined;

  constructor(private readonly readMaxBytes: number) {}

  /**
   * Bytes of an envelope begun but not complete. As in Connect's decoder, a
   * header already read is not counted: a body that ends right after a
   * header is "missing input message", not "incomplete envelope".
   */
  get pendingBytes(): number {
    return this.received - (this.announced === undefined ? 0 : 5);
  }

  push(chunk: Uint8Array): { flags: number; data: Uint8Array }[] {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.received += chunk.byteLength;
    const complete: { flags: number; data: Uint8Array }[] = [];
    for (;;) {
      const needed = this.announced === undefined ? 5 : 5 + this.announced;
      if (this.received < needed) return complete;
      const buffered =
        this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      if (this.announced === undefined) {
        this.chunks = [buffered];
        const length = buffered.readUInt32BE(1);
        if (length > this.readMaxBytes) {
          // limit-io.ts assertReadMaxBytes(readMaxBytes, length, true)
          throw new ConnectError(
            `message size ${length} is larger than configured readMaxBytes ${this.readMaxBytes}`,
            Code.ResourceExhausted,
          );
        }
        this.announced = length;
        continue;
      }
      // A copy: the message must not keep the whole chunk (or the next
      // envelope) alive, as Connect's decoder copies too.
      complete.push({
        flags: buffered[0] as number,
        data: Uint8Array.prototype.slice.call(buffered, 5, needed),
      });
      const rest = buffered.subarray(needed);
      this.chunks = rest.byteLength === 0 ? [] : [rest];
      this.received = rest.byteLength;
      this.announced = undefined;
    }
  }
}
