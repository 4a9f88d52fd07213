// Business errors leave the handlers as ConnectErrors already. Anything else
// is a surprise: it is logged in full here and the client only learns that
// something went wrong, never the internals (SQL, stack traces, hosts).
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../log/logger.js";
import { StoreUnavailableError } from "../../store/store.js";

export function hideUnexpectedErrors(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      const method = `${req.service.typeName}/${req.method.name}`;
      if (error instanceof StoreUnavailableError) {
        logger.warn({ err: error, method }, "database unavailable");
        throw new ConnectError("the database is unavailable; retry shortly", Code.Unavailable);
      }
      logger.error({ err: error, method }, "unexpected error in handler");
      throw new ConnectError("internal error", Code.Internal);
    }
  };
}
