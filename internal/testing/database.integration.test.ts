// Needs DATABASE_URL naming a PostgreSQL server whose role may CREATE DATABASE.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import postgres from "postgres";
import { createScratchDatabase } from "./database.js";

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl)
  throw new Error("DATABASE_URL is not set (e.g. postgres://root@127.0.0.1:5432/test)");
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
after(() => admin.end({ timeout: 2 }));

const exists = async (name: string) =>
  (await admin`select 1 from pg_database where datname = ${name}`).length === 1;

describe("createScratchDatabase", () => {
  it("creates a database that drop() removes, even with a connection still open", async () => {
    const database = await createScratchDatabase(
      serverUrl,
      `cal_scratch_${randomBytes(4).toString("hex")}`,
    );
    assert.equal(await exists(database.name), true);
    const user = postgres(database.url, { max: 1, onnotice: () => {} });
    await user`select 1`;
    await database.drop();
    await database.drop(); // twice is fine (cleanup paths may both run)
    await user.end({ timeout: 1 }).catch(() => {});
    assert.equal(await exists(database.name), false);
  });
});
