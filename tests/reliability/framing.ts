// The four ways a unary call travels, built by hand so that anything can be
// put on the wire, and the reading of an answer back into a status code.
import fc from "fast-check";
import {
  encodeBinary,
  encodeJson,
  hostileBinaryArb,
  hostileJsonArb,
  hugeBinary,
  hugeJson,
  hugeSizeArb,
  type MethodName,
  requestArb,
} from "./arbitraries.js";
import type { RawResponse } from "./harness.js";

export type Kind = "connect" | "grpc" | "grpc-web";

export interface Framing {
  name: string;
  transport: "h1" | "h2";
  kind: Kind;
  contentType: string;
  binary: boolean;
}

export const FRAMINGS: Framing[] = [
  {
    name: "Connect JSON/HTTP1.1",
    transport: "h1",
    kind: "connect",
    contentType: "application/json",
    binary: false,
  },
  {
    name: "Connect proto/HTTP1.1",
    transport: "h1",
    kind: "connect",
    contentType: "application/proto",
    binary: true,
  },
  {
    name: "Connect proto/h2c",
    transport: "h2",
    kind: "connect",
    contentType: "application/proto",
    binary: true,
  },
  {
    name: "gRPC/h2c",
    transport: "h2",
    kind: "grpc",
    contentType: "application/grpc",
    binary: true,
  },
  {
    name: "gRPC+json/h2c",
    transport: "h2",
    kind: "grpc",
    contentType: "application/grpc+json",
    binary: false,
  },
  {
    name: "gRPC-Web/HTTP1.1",
    transport: "h1",
    kind: "grpc-web",
    contentType: "application/grpc-web",
    binary: true,
  },
  {
    name: "gRPC-Web+proto/HTTP1.1",
    transport: "h1",
    kind: "grpc-web",
    contentType: "application/grpc-web+proto",
    binary: true,
  },
];

/** Content types no protocol of the server accepts for a unary call. */
export const WRONG_CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/octet-stream",
  "application/connect+proto",
  "application/connect+json",
  "application/grpc-web-text",
  "application/protobuf",
  "application/json; charset=latin1",
  "application/grpc+thrift",
  "*/*",
  "",
];

export function envelope(flags: number, data: Uint8Array, declaredLength = data.byteLength) {
  const out = new Uint8Array(5 + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, flags);
  view.setUint32(1, declaredLength >>> 0);
  out.set(data, 5);
  return out;
}

const textBytes = (s: string) => new TextEncoder().encode(s);

/** A message body as the protocol's codec would carry it, valid or not. */
function messageBytesArb(method: MethodName, binary: boolean): fc.Arbitrary<Uint8Array> {
  if (!binary) {
    return fc.oneof(
      {
        weight: 4,
        arbitrary: requestArb(method).map((init) => textBytes(encodeJson(method, init))),
      },
      { weight: 4, arbitrary: hostileJsonArb(method).map(textBytes) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(hugeSizeArb, fc.constantFrom("a", "é", "'", "\\\\", "\u0000"))
          .map(([size, unit]) => textBytes(hugeJson(method, size, unit))),
      },
    );
  }
  const valid = requestArb(method).map((init) => encodeBinary(method, init));
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.nat())
        .map(([bytes, cut]) => bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          valid,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        )
        .map(([bytes, flips]) => {
          const copy = Uint8Array.from(bytes);
          for (const [at, value] of flips) if (copy.length > 0) copy[at % copy.length] = value;
          return copy;
        }),
    },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 2, arbitrary: hostileBinaryArb(method) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(hugeSizeArb, fc.constantFrom("a", "é", "'"))
        .map(([size, unit]) => hugeBinary(method, size, unit)),
    },
  );
}

/** The whole HTTP body for `framing`: the message, enveloped or not, and broken framing. */
export function bodyArb(framing: Framing, method: MethodName): fc.Arbitrary<Uint8Array> {
  const message = messageBytesArb(method, framing.binary);
  if (framing.kind === "connect") return message;
  return fc.oneof(
    { weight: 6, arbitrary: message.map((m) => envelope(0, m)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(message, fc.integer({ min: -64, max: 64 }))
        .map(([m, delta]) => envelope(0, m, Math.max(0, m.length + delta))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          message,
          fc.oneof(fc.constant(0xffffffff), fc.integer({ min: 2 ** 20, max: 2 ** 31 })),
        )
        .map(([m, length]) => envelope(0, m, length)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(message, fc.integer({ min: 1, max: 255 }))
        .map(([m, flags]) => envelope(flags, m)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(message, message)
        .map(([a, b]) => Uint8Array.from([...envelope(0, a), ...envelope(0, b)])),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4 }) },
    { weight: 1, arbitrary: message },
  );
}

/** Headers a caller might send, most of them sane. */
export function headersArb(framing: Framing): fc.Arbitrary<Record<string, string>> {
  const userId = fc.oneof(
    { weight: 8, arbitrary: fc.constant<string | undefined>("fuzz-raw-user") },
    { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<string | undefined>(
        "",
        "' OR '1'='1",
        "a".repeat(129),
        "%",
        "caf\u00e9",
        "\u00ff\u00fe",
      ),
    },
  );
  const encodingHeader = framing.kind === "connect" ? "content-encoding" : "grpc-encoding";
  const timeoutHeader = framing.kind === "connect" ? "connect-timeout-ms" : "grpc-timeout";
  return fc
    .record({
      userId,
      encoding: fc.oneof(
        { weight: 9, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom("gzip", "br", "identity", "snappy", "") },
      ),
      timeout: fc.oneof(
        { weight: 9, arbitrary: fc.constant<string | undefined>(undefined) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("1", "0", "-1", "1H", "99999999999S", "x", "5000"),
        },
      ),
    })
    .map(({ userId, encoding, timeout }) => {
      const headers: Record<string, string> = { "content-type": framing.contentType };
      if (framing.kind === "grpc") headers.te = "trailers";
      if (framing.kind === "connect") headers["connect-protocol-version"] = "1";
      if (framing.kind === "grpc-web") headers["x-grpc-web"] = "1";
      if (userId !== undefined) headers["x-user-id"] = userId;
      if (encoding !== undefined) headers[encodingHeader] = encoding;
      if (timeout !== undefined) headers[timeoutHeader] = timeout;
      return headers;
    });
}

// ---------------------------------------------------------------------------
// Reading answers.

const GRPC_CODE_NAMES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/** Codes that say the server failed, not the caller. */
export const SERVER_FAULT_CODES = new Set(["internal", "unknown", "unavailable", "data_loss"]);

export type Outcome = { ok: true; code: string; detail: string } | { ok: false; reason: string };

function grpcCode(raw: string | undefined): string | undefined {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return GRPC_CODE_NAMES[Number(raw)] ?? `code ${raw}`;
}

function parseTrailerBlock(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of new TextDecoder().decode(bytes).split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) out[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return out;
}

/** The grpc-web trailer frame of a body, if it has a well-formed one. */
function grpcWebTrailers(body: Buffer): Record<string, string> | undefined {
  let at = 0;
  while (at + 5 <= body.length) {
    const flags = body[at] ?? 0;
    const length = body.readUInt32BE(at + 1);
    const end = at + 5 + length;
    if (end > body.length) return undefined;
    if (flags & 0x80) return parseTrailerBlock(body.subarray(at + 5, end));
    at = end;
  }
  return undefined;
}

/** The status code an answer carries, or why it is not a well-formed answer. */
export function readOutcome(kind: Kind, res: RawResponse): Outcome {
  const detail = (message: string | undefined) => (message ?? "").slice(0, 160);
  if (kind === "connect") {
    if (res.status === 200) return { ok: true, code: "ok", detail: "" };
    const type = res.headers["content-type"] ?? "";
    if (type.startsWith("application/json")) {
      try {
        const parsed = JSON.parse(res.body.toString("utf8")) as {
          code?: unknown;
          message?: unknown;
        };
        if (typeof parsed.code === "string" && GRPC_CODE_NAMES.includes(parsed.code)) {
          return {
            ok: true,
            code: parsed.code,
            detail: `${res.status} ${detail(String(parsed.message))}`,
          };
        }
      } catch {
        // falls through to "malformed"
      }
    }
    return {
      ok: false,
      reason: `HTTP ${res.status} ${type} without a Connect error body: ${detail(res.body.toString("utf8"))}`,
    };
  }
  const fromTrailers = kind === "grpc-web" ? (grpcWebTrailers(res.body) ?? {}) : res.trailers;
  const status = grpcCode(res.headers["grpc-status"]) ?? grpcCode(fromTrailers["grpc-status"]);
  if (status === undefined) {
    return {
      ok: false,
      reason: `HTTP ${res.status} ${res.headers["content-type"] ?? ""} without grpc-status`,
    };
  }
  const message = res.headers["grpc-message"] ?? fromTrailers["grpc-message"];
  return {
    ok: true,
    code: status,
    detail: `${res.status} ${detail(message === undefined ? undefined : safeDecode(message))}`,
  };
}

function safeDecode(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}
