// gRPC server reflection (grpc.reflection.v1 and the older v1alpha), so that
// buf curl, grpcurl, Postman and Evans discover the API without .proto files.
// connect-es has no reflection package for Node 20; the answers come from
// the descriptors embedded in the generated code (gen/), which carry
// everything a client needs except comments.
import {
  create,
  createRegistry,
  type DescFile,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Answer = MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"];

/** The files behind the services a server offers, and lookups over them. */
interface Catalogue {
  serviceNames: string[];
  /** By path, e.g. "calendar/v1/calendar.proto" (DescFile.name lacks ".proto"). */
  fileByName: Map<string, DescFile>;
  fileOfSymbol(name: string): DescFile | undefined;
  isMessage(name: string): boolean;
}

function catalogueOf(services: readonly DescService[]): Catalogue {
  const fileByName = new Map<string, DescFile>();
  const addWithDependencies = (file: DescFile) => {
    if (fileByName.has(file.proto.name)) return;
    fileByName.set(file.proto.name, file);
    for (const dependency of file.dependencies) addWithDependencies(dependency);
  };
  for (const service of services) addWithDependencies(service.file);
  const registry = createRegistry(...fileByName.values());

  return {
    serviceNames: [...new Set(services.map((s) => s.typeName))].sort(),
    fileByName,
    fileOfSymbol(name) {
      const found = registry.get(name);
      if (found) return found.file;
      // A method, field or enum value: look for its parent, then the member.
      const dot = name.lastIndexOf(".");
      const parent = registry.get(name.slice(0, dot));
      const member = name.slice(dot + 1);
      if (dot < 0 || parent === undefined) return undefined;
      const members: { name: string }[] =
        parent.kind === "service"
          ? parent.methods
          : parent.kind === "message"
            ? [...parent.fields, ...parent.oneofs]
            : parent.kind === "enum"
              ? parent.values
              : [];
      return members.some((m) => m.name === member) ? parent.file : undefined;
    },
    isMessage: (name) => registry.getMessage(name) !== undefined,
  };
}

/**
 * The file, then the files it imports (transitively) that this stream has
 * not been sent yet, as grpc-go does: clients cache what they received.
 */
function fileWithDependencies(file: DescFile, sent: Set<string>): Answer {
  const files: DescFile[] = [file];
  const visit = (f: DescFile) => {
    for (const dependency of f.dependencies) {
      if (sent.has(dependency.proto.name) || files.includes(dependency)) continue;
      files.push(dependency);
      visit(dependency);
    }
  };
  visit(file);
  for (const f of files) sent.add(f.proto.name);
  return {
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: files.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
  };
}

function errorAnswer(code: Code, message: string): Answer {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

function answer(
  request: v1.ServerReflectionRequest["messageRequest"],
  catalogue: Catalogue,
  sent: Set<string>,
): Answer {
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: catalogue.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const file = catalogue.fileByName.get(request.value);
      return file
        ? fileWithDependencies(file, sent)
        : errorAnswer(Code.NotFound, `file "${request.value}" not found`);
    }
    case "fileContainingSymbol": {
      const file = catalogue.fileOfSymbol(request.value);
      return file
        ? fileWithDependencies(file, sent)
        : errorAnswer(Code.NotFound, `symbol "${request.value}" not found`);
    }
    case "fileContainingExtension":
      // None of our files declares an extension.
      return errorAnswer(
        Code.NotFound,
        `no extension ${request.value.extensionNumber} of "${request.value.containingType}"`,
      );
    case "allExtensionNumbersOfType":
      return catalogue.isMessage(request.value)
        ? {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: request.value, extensionNumber: [] },
          }
        : errorAnswer(Code.NotFound, `type "${request.value}" not found`);
    default:
      return errorAnswer(
        Code.InvalidArgument,
        "message_request: set one of file_by_filename, file_containing_symbol, file_containing_extension, all_extension_numbers_of_type or list_services",
      );
  }
}

/**
 * Both reflection services, describing `services()` (read on the first
 * call, so that it can list every service the router ends up holding,
 * reflection included).
 */
export function reflectionServices(services: () => readonly DescService[]): {
  v1: ServiceImpl<typeof v1.ServerReflection>;
  v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
} {
  let catalogue: Catalogue | undefined;
  const catalogueNow = () => {
    catalogue ??= catalogueOf(services());
    return catalogue;
  };

  async function* v1Info(requests: AsyncIterable<v1.ServerReflectionRequest>) {
    const sent = new Set<string>();
    for await (const request of requests) {
      yield create(v1.ServerReflectionResponseSchema, {
        validHost: request.host,
        originalRequest: request,
        messageResponse: answer(request.messageRequest, catalogueNow(), sent),
      });
    }
  }

  // v1alpha is wire-identical to v1: its requests are read as v1, answered,
  // and the answers read back as v1alpha.
  async function* v1alphaInfo(requests: AsyncIterable<v1alpha.ServerReflectionRequest>) {
    async function* asV1() {
      for await (const request of requests) {
        const bytes = toBinary(v1alpha.ServerReflectionRequestSchema, request);
        yield fromBinary(v1.ServerReflectionRequestSchema, bytes);
      }
    }
    for await (const response of v1Info(asV1())) {
      const bytes = toBinary(v1.ServerReflectionResponseSchema, response);
      yield fromBinary(v1alpha.ServerReflectionResponseSchema, bytes);
    }
  }

  return {
    v1: { serverReflectionInfo: v1Info },
    v1alpha: { serverReflectionInfo: v1alphaInfo },
  };
}
