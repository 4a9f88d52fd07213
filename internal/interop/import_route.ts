// POST /import with a text/calendar body and the usual x-user-id: the same
// import as the ImportEvents RPC, for curl and scripts. Answers with the
// RPC's response as JSON, and errors as Connect error bodies
// ({"code": ..., "message": ...}).
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { ImportEventsResponseSchema } from "../../gen/calendar/v1/interop_pb.js";
import { USER_ID_HEADER } from "../api/interceptors/require_user_id.js";
import { importIcs, MAX_ICS_BYTES } from "../api/interop_handlers.js";
import { validateUserId } from "../domain/validation.js";
import type { Logger } from "../log/logger.js";
import { type EventStore, StoreUnavailableError } from "../store/store.js";

export const IMPORT_PATH = "/import";

// HTTP statuses of the Connect protocol for the codes this route answers.
const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.ResourceExhausted]: 413,
  [Code.Unavailable]: 503,
  [Code.Internal]: 500,
};

export async function registerImportRoute(
  app: FastifyInstance,
  options: { store: EventStore; logger: Logger },
): Promise<void> {
  const { store, logger } = options;
  // In its own scope: the text/calendar parser and the error handler apply
  // to this route only.
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      "text/calendar",
      // The limit is checked again in bytes of text by importIcs; a little
      // room here lets that check give the clear message.
      { parseAs: "string", bodyLimit: MAX_ICS_BYTES + 1 },
      (_req, body, done) => done(null, body),
    );
    scope.setErrorHandler((error: FastifyError, _req, reply) => {
      if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        return sendError(
          reply,
          new ConnectError(
            `the file is larger than ${MAX_ICS_BYTES / 1024 / 1024} MiB; split it and import the parts`,
            Code.ResourceExhausted,
          ),
        );
      }
      if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || error.statusCode === 415) {
        return unsupportedType(reply);
      }
      if (typeof error.statusCode === "number" && error.statusCode < 500) {
        return sendError(reply, new ConnectError(error.message, Code.InvalidArgument));
      }
      logger.error({ err: error }, "import failed unexpectedly");
      return sendError(reply, new ConnectError("internal error", Code.Internal));
    });
    scope.post<{ Body: string }>(IMPORT_PATH, async (req, reply) => {
      if (!isCalendarType(req.headers["content-type"])) return unsupportedType(reply);
      const raw = req.headers[USER_ID_HEADER];
      if (typeof raw !== "string" || raw === "") {
        return sendError(
          reply,
          new ConnectError(
            `the ${USER_ID_HEADER} header is required and names the calling user`,
            Code.Unauthenticated,
          ),
        );
      }
      const userId = validateUserId(raw);
      if (!userId.ok) {
        return sendError(
          reply,
          new ConnectError(`${userId.error.field}: ${userId.error.message}`, Code.InvalidArgument),
        );
      }
      try {
        const response = await importIcs(
          store,
          userId.value,
          typeof req.body === "string" ? req.body : "",
        );
        return reply.send(toJson(ImportEventsResponseSchema, response));
      } catch (error) {
        if (error instanceof ConnectError) return sendError(reply, error);
        if (error instanceof StoreUnavailableError) {
          logger.warn({ err: error }, "import stopped: database unavailable");
          return sendError(
            reply,
            new ConnectError(
              "the database is unavailable; import the file again (it is idempotent)",
              Code.Unavailable,
            ),
          );
        }
        logger.error({ err: error }, "import failed unexpectedly");
        return sendError(reply, new ConnectError("internal error", Code.Internal));
      }
    });
  });
}

function sendError(reply: FastifyReply, error: ConnectError) {
  const code = Code[error.code].replace(
    /[A-Z]/g,
    (c, at: number) => (at > 0 ? "_" : "") + c.toLowerCase(),
  );
  return reply.code(HTTP_STATUS[error.code] ?? 500).send({ code, message: error.rawMessage });
}

function isCalendarType(contentType: string | undefined): boolean {
  return contentType?.split(";")[0]?.trim().toLowerCase() === "text/calendar";
}

function unsupportedType(reply: FastifyReply) {
  return reply
    .code(415)
    .send({ code: "invalid_argument", message: "send the file with Content-Type: text/calendar" });
}
