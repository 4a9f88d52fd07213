// The references the api is measured against, in a process of their own,
// built and run like the api (plain node, the Dockerfile's NODE_OPTIONS):
//
// - bench.v1.Plain/Ping: a plain Fastify route that answers `{}`: what Node
//   and Fastify cost per HTTP/1.1 request, with nothing of ours or Connect's;
// - bench.v1.Bench/Ping: the empty RPC on bare connect-fastify (no
//   interceptors, no one-port server, no body checks): what Connect itself
//   costs per call, HTTP/1.1 only;
// - calendar.v1.CalendarService/<Method>: a minimal Fastify + postgres.js
//   server that runs exactly the store's SQL (eventsInWindow, the same column
//   list) and answers the same JSON as Connect JSON would, with no
//   validation, interceptors, logging or metrics; CreateEvent, UpdateEvent
//   and DeleteEvent are a single INSERT/UPDATE/DELETE ... RETURNING each
//   (bench/reference_sql.ts: one round trip, no transaction of several
//   statements), the target of issue 17.
//
// The paths and bodies are those of the Connect protocol, so the bench's
// lean Connect JSON client calls it unchanged. Errors are plain 500s: the
// bench only sends valid requests.
import { randomUUID } from "node:crypto";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastify from "fastify";
import postgres from "postgres";
import { eventsInWindow } from "../internal/store/postgres/postgres_store.js";
import { type EventRow, eventColumns } from "../internal/store/postgres/rows.js";
import { BenchService } from "./bench_service.js";
import { deleteEvent, insertEvent, updateEvent } from "./reference_sql.js";

const DAY_MS = 86_400_000;
const LIST_LIMIT = 10_001;

const eventJson = (row: EventRow) => ({
  id: row.id,
  title: row.title,
  startTime: new Date(row.start_ms).toISOString(),
  duration: `${(row.end_ms - row.start_ms) / 1000}s`,
  ...(row.description !== null && { description: row.description }),
  userId: row.user_id,
  ...(row.notify_before_ms !== null && { notifyBefore: `${row.notify_before_ms / 1000}s` }),
  createdAt: new Date(row.created_ms).toISOString(),
  updatedAt: new Date(row.updated_ms).toISOString(),
  version: row.version,
});

/** "1800s" -> 1_800_000 ms, as Connect JSON writes google.protobuf.Duration. */
const durationMs = (text: string) => Number(text.slice(0, -1)) * 1000;

async function main() {
  const { DATABASE_URL, PORT } = process.env;
  if (!DATABASE_URL || !PORT) throw new Error("DATABASE_URL and PORT must be set");
  // The api's default pool (DB_POOL_MAX).
  const sql = postgres(DATABASE_URL, { max: 10, onnotice: () => {} });
  const app = fastify({ logger: false });
  const user = (headers: Record<string, unknown>) => String(headers["x-user-id"]);

  app.post("/bench.v1.Plain/Ping", async () => ({}));
  // Encapsulated: its content-type parsers stay out of the routes above.
  await app.register(fastifyConnectPlugin, {
    routes: (router) => router.service(BenchService, { ping: () => ({}) }),
  });

  const list =
    (days: (date: string) => number) =>
    async (req: { body: unknown; headers: Record<string, unknown> }) => {
      const { date } = req.body as { date: string };
      const start = new Date(`${date}T00:00:00Z`);
      const end = new Date(start.getTime() + days(date) * DAY_MS);
      const rows = await eventsInWindow(sql, user(req.headers), { start, end }, LIST_LIMIT);
      return { events: rows.map(eventJson) };
    };
  app.post(
    "/calendar.v1.CalendarService/ListDayEvents",
    list(() => 1),
  );
  app.post(
    "/calendar.v1.CalendarService/ListMonthEvents",
    list((date) => {
      const d = new Date(`${date}T00:00:00Z`);
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    }),
  );

  app.post("/calendar.v1.CalendarService/GetEvent", async (req, reply) => {
    const { id } = req.body as { id: string };
    const [row] = await sql<EventRow[]>`
      select ${eventColumns(sql)} from events where user_id = ${user(req.headers)} and id = ${id}`;
    if (!row) return reply.code(404).send({ code: "not_found", message: "no such event" });
    return { event: eventJson(row) };
  });

  type EventJson = {
    id?: string;
    title: string;
    startTime: string;
    duration: string;
    notifyBefore?: string;
  };
  const writeFields = (event: EventJson) => ({
    title: event.title,
    startMs: new Date(event.startTime).getTime(),
    durationMs: durationMs(event.duration),
    notifyBeforeMs: event.notifyBefore === undefined ? null : durationMs(event.notifyBefore),
  });
  app.post("/calendar.v1.CalendarService/CreateEvent", async (req) => {
    const { event } = req.body as { event: EventJson };
    const row = await insertEvent(sql, user(req.headers), randomUUID(), writeFields(event));
    return { event: eventJson(row) };
  });
  app.post("/calendar.v1.CalendarService/UpdateEvent", async (req, reply) => {
    const { event } = req.body as { event: EventJson };
    const row = await updateEvent(sql, user(req.headers), String(event.id), writeFields(event));
    if (!row) return reply.code(404).send({ code: "not_found", message: "no such event" });
    return { event: eventJson(row) };
  });
  app.post("/calendar.v1.CalendarService/DeleteEvent", async (req, reply) => {
    const { id } = req.body as { id: string };
    if (!(await deleteEvent(sql, user(req.headers), id))) {
      return reply.code(404).send({ code: "not_found", message: "no such event" });
    }
    return {};
  });

  app.get("/readyz", async () => ({ ok: true }));
  await app.listen({ host: "127.0.0.1", port: Number(PORT) });
}

main().catch((error) => {
  process.stderr.write(`bench reference server failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
