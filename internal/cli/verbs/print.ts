// How verbs print an answer: the API's JSON with --json, tables otherwise.
import { type DescMessage, type MessageShape, toJsonString } from "@bufbuild/protobuf";
import type { CliContext } from "../context.js";

export function printJson<Desc extends DescMessage>(
  ctx: CliContext,
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  ctx.output.out(`${toJsonString(schema, message, { prettySpaces: 2 })}\n`);
}
