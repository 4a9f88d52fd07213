// An embedded Postgres (PGlite, compiled to WebAssembly) kept under DATA_DIR,
// for running without a database server. It is served over a local socket
// with pglite-socket so that postgres.js talks to it exactly as to a real
// server: one SQL path, one set of migrations, one store implementation.
//
// PGlite is a single backend session. pglite-socket accepts one client
// connection by default and turns away any other with a non-protocol reply,
// so the client pool must have max: 1 and must not recycle its connection
// on its own (see embeddedPoolOptions in connect.ts). Session state (prepared
// statements, settings, session advisory locks) is shared by every client
// that ever connects, which is why the migration runner uses only
// transaction-scoped locks.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Logger } from "../../log/logger.js";
import { lockDataDir } from "./dir_lock.js";

export interface EmbeddedDatabase {
  /** A postgres:// URL for the local socket; no password, reachable only from 127.0.0.1. */
  url: string;
  /** Stops the socket server, then closes PGlite so its files are consistent on disk. */
  close(): Promise<void>;
}

export async function startEmbeddedDatabase(
  dataDir: string,
  logger: Logger,
): Promise<EmbeddedDatabase> {
  const started = performance.now();
  // PGlite's files go in a directory of their own, next to the lock that
  // keeps a second process out of them.
  const directory = join(resolve(dataDir), "pglite");
  await mkdir(directory, { recursive: true });
  const lock = await lockDataDir(`${directory}.lock`, logger);

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  const stop = async () => {
    await server?.stop();
    await db?.close();
    await lock.release();
  };
  try {
    db = await PGlite.create({ dataDir: directory, extensions: { btree_gist } });
    // Port 0: the OS picks a free port, so several instances (tests, a second
    // service on the same host) never collide.
    server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
    await server.start();
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  logger.info(
    { dataDir: directory, url, ms: Math.round(performance.now() - started) },
    "embedded database started",
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= stop().then(() =>
        logger.info({ dataDir: directory }, "embedded database closed"),
      );
      return closing;
    },
  };
}
