// How the roles' stops compose. Every role returns a Stop that the shutdown
// handler (shutdown.ts) calls; `all` combines the stops of its parts.

export type Stop = () => Promise<void>;

export const noop: Stop = async () => {};

/** One stop that runs the given stops at once; fails with the first failure, after all ended. */
export function stopTogether(stops: Stop[]): Stop {
  return async () => {
    const outcomes = await Promise.allSettled(stops.map((stop) => stop()));
    const failed = outcomes.find((o) => o.status === "rejected");
    if (failed) throw failed.reason;
  };
}

/** One stop that runs each given stop in turn, even when an earlier one fails. */
export function stopInOrder(stops: Stop[]): Stop {
  return async () => {
    let firstError: unknown;
    for (const stop of stops) {
      try {
        await stop();
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
  };
}
