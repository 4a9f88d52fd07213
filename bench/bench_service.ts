// bench.v1.Bench/Ping: an RPC that does nothing, built at run time (no .proto
// to generate from), for the empty-RPC reference in bench/api.ts; and
// bench.v1.Plain/Ping, the same shape, the path of the plain Fastify route
// in bench/reference_server.ts.
import { create, toBinary } from "@bufbuild/protobuf";
import { fileDesc, type GenService } from "@bufbuild/protobuf/codegenv2";
import {
  type EmptySchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_empty,
} from "@bufbuild/protobuf/wkt";

const benchFile = fileDesc(
  Buffer.from(
    toBinary(
      FileDescriptorProtoSchema,
      create(FileDescriptorProtoSchema, {
        name: "bench/v1/bench.proto",
        package: "bench.v1",
        dependency: ["google/protobuf/empty.proto"],
        syntax: "proto3",
        service: ["Bench", "Plain"].map((name) => ({
          name,
          method: [
            {
              name: "Ping",
              inputType: ".google.protobuf.Empty",
              outputType: ".google.protobuf.Empty",
            },
          ],
        })),
      }),
    ),
  ).toString("base64"),
  [file_google_protobuf_empty],
);
type PingService = GenService<{
  ping: { methodKind: "unary"; input: typeof EmptySchema; output: typeof EmptySchema };
}>;
export const BenchService = benchFile.services[0] as unknown as PingService;
export const PlainService = benchFile.services[1] as unknown as PingService;
