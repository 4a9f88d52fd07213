// Values that travel with each call from the HTTP layer to the interceptors
// and handlers.
import { createContextKey } from "@connectrpc/connect";

/** The caller, once the user-id interceptor has checked x-user-id. */
export const kUserId = createContextKey<string | undefined>(undefined, {
  description: "the caller's user id from x-user-id",
});

export type Protocol = "grpc" | "grpc-web" | "connect";

/** What the access log and metrics need that Connect's request does not carry. */
export interface CallInfo {
  protocol: Protocol;
  peer: string | undefined;
  userAgent: string | undefined;
  /** Set by the observing interceptor; calls rejected before it are logged by the server. */
  observed: boolean;
}

export const kCallInfo = createContextKey<CallInfo | undefined>(undefined, {
  description: "transport facts about the call",
});

export function protocolOf(contentType: string | undefined): Protocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
