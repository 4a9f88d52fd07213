// There is no authentication: the caller says who they are in x-user-id.
// This interceptor only checks that they said it in a usable form, and puts
// it in the context so handlers never read headers themselves.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { validateUserId } from "../../domain/validation.js";
import { kUserId } from "../context.js";

export const USER_ID_HEADER = "x-user-id";

export function requireUserId(...serviceTypeNames: string[]): Interceptor {
  return (next) => async (req) => {
    if (!serviceTypeNames.includes(req.service.typeName)) return next(req);
    const raw = req.header.get(USER_ID_HEADER);
    if (raw === null || raw === "") {
      throw new ConnectError(
        `the ${USER_ID_HEADER} header is required and names the calling user`,
        Code.Unauthenticated,
      );
    }
    const userId = validateUserId(raw);
    if (!userId.ok) {
      throw new ConnectError(
        `${userId.error.field}: ${userId.error.message}`,
        Code.InvalidArgument,
      );
    }
    req.contextValues.set(kUserId, userId.value);
    return next(req);
  };
}
