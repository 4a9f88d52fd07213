// Business errors leave the handlers as ConnectErrors already. Anything else
// is a surprise: it is logged in full here and the client only learns that
// something went wrong, never the internals (SQL, stack traces, hosts).
// A server stream can fail after its first message, outside the handler's
// own call: its messages are watched too.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../log/logger.js";
import { StoreUnavailableError } from "../../store/store.js";

export function hideUnexpectedErrors(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const hide = (error: unknown): ConnectError => {
      if (error instanceof ConnectError) return error;
      if (error instanceof StoreUnavailableError) {
        logger.warn({ err: error, method }, "database unavailable");
        return new ConnectError("the database is unavailable; retry shortly", Code.Unavailable);
      }
      logger.error({ err: error, method }, "unexpected error in handler");
      return new ConnectError("internal error", Code.Internal);
    };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, hide) };
    } catch (error) {
      throw hide(error);
    }
  };
}

async function* mapStreamErrors<T>(
  messages: AsyncIterable<T>,
  map: (error: unknown) => unknown,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}
