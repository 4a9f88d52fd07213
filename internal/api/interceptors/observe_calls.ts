// One access-log line and one metrics sample per call. gRPC answers HTTP 200
// whatever the outcome, so the code has to be read here, not from HTTP. A
// server stream is observed when it ends, with the code it ended with.
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../log/logger.js";
import { kCallInfo, kUserId } from "../context.js";
import { codeName, type RpcMetrics } from "../metrics.js";

export function observeCalls(logger: Logger, metrics: RpcMetrics): Interceptor {
  return (next) => async (req) => {
    const startedAt = performance.now();
    const info = req.contextValues.get(kCallInfo);
    if (info) info.observed = true;
    const observe = (error: ConnectError | undefined) => {
      const seconds = (performance.now() - startedAt) / 1000;
      const code = error ? codeName(error.code) : "ok";
      metrics.observe(req.service.typeName, req.method.name, code, seconds);
      logger.info(
        {
          method: `${req.service.typeName}/${req.method.name}`,
          protocol: info?.protocol,
          code,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          userId: req.contextValues.get(kUserId),
          peer: info?.peer,
          userAgent: info?.userAgent,
          ...(error && { error: error.rawMessage }),
        },
        "rpc",
      );
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (thrown) {
      observe(ConnectError.from(thrown));
      throw thrown;
    }
    if (!res.stream) {
      observe(undefined);
      return res;
    }
    return { ...res, message: observeStream(res.message, observe) };
  };
}

async function* observeStream<T>(
  messages: AsyncIterable<T>,
  observe: (error: ConnectError | undefined) => void,
): AsyncIterable<T> {
  let error: ConnectError | undefined;
  try {
    yield* messages;
  } catch (thrown) {
    error = ConnectError.from(thrown);
    throw thrown;
  } finally {
    // Also when the client went away (the stream is returned early).
    observe(error);
  }
}
