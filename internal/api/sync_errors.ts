// The SYNC_TOKEN_EXPIRED error (AIP-193): FAILED_PRECONDITION with a
// google.rpc.ErrorInfo detail, the gRPC counterpart of Google Calendar's
// 410 Gone for an invalid sync token. The client drops its copy and runs a
// full sync.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

export const SYNC_TOKEN_EXPIRED = "SYNC_TOKEN_EXPIRED";
export const ERROR_DOMAIN = "calendar.v1";

export function syncTokenExpired(field: string): ConnectError {
  return new ConnectError(
    `${field}: is older than the changes this server still remembers (deletions are kept for TOMBSTONE_RETENTION); drop your copy and sync in full, without a sync_token`,
    Code.FailedPrecondition,
    undefined,
    [{ desc: ErrorInfoSchema, value: { reason: SYNC_TOKEN_EXPIRED, domain: ERROR_DOMAIN } }],
  );
}
