// One port for HTTP/1.1 and h2c: what the protocol sniffing in one_port.ts
// guards. TCP delivers bytes in whatever pieces it likes, so the HTTP/2
// preface (and an HTTP/1.1 request that starts like it: "P" of "POST" is the
// "P" of "PRI") may arrive a byte at a time; a client may connect and say
// nothing; and both protocols share the port, connection after connection.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createOnePortServer, type OnePortServer } from "./one_port.js";

/** Answers with the HTTP version it was reached over, and the body it read. */
function echoVersion(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    res.setHeader("content-type", "text/plain");
    res.end(`${req.httpVersion} ${req.method} ${Buffer.concat(chunks).toString()}`);
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * A TCP relay to `port` that forwards the client's first `sliced` bytes one
 * at a time, each in a TCP segment of its own (no Nagle, a pause between),
 * then the rest as it comes; the server's bytes go back untouched.
 */
function slicingRelay(port: number, sliced: number): net.Server {
  return net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    upstream.setNoDelay(true);
    let pending = Promise.resolve();
    let forwarded = 0;
    client.on("data", (chunk: Buffer) => {
      client.pause();
      pending = pending.then(async () => {
        for (let at = 0; at < chunk.length; ) {
          if (forwarded < sliced) {
            upstream.write(chunk.subarray(at, at + 1));
            forwarded += 1;
            at += 1;
            await sleep(2);
          } else {
            upstream.write(chunk.subarray(at));
            forwarded += chunk.length - at;
            at = chunk.length;
          }
        }
        client.resume();
      });
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
}

function h1Post(port: number, body: string, agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", agent });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks).toString()));
    });
    req.end(body);
  });
}

function h2Post(session: http2.ClientHttp2Session, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": "/" });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks).toString()));
    stream.on("error", reject);
    stream.end(body);
  });
}

describe("one port for HTTP/1.1 and h2c", () => {
  const SNIFF_TIMEOUT_MS = 300;
  let server: OnePortServer;
  let port: number;
  const closers: (() => void)[] = [];
  before(async () => {
    server = createOnePortServer(echoVersion, {
      http2SessionTimeoutMs: 10_000,
      sniffTimeoutMs: SNIFF_TIMEOUT_MS,
    });
    port = await listen(server);
  });
  after(async () => {
    for (const close of closers) close();
    server.closeHttp2Sessions();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("serves h2c whose preface arrives a byte at a time", async () => {
    const relay = slicingRelay(port, 40);
    closers.push(() => relay.close());
    const relayPort = await listen(relay);
    const session = http2.connect(`http://127.0.0.1:${relayPort}`);
    closers.push(() => session.destroy());
    assert.equal(await h2Post(session, "sliced"), "2.0 POST sliced");
    assert.equal(await h2Post(session, "again"), "2.0 POST again");
  });

  it("serves HTTP/1.1 that starts like the preface, a byte at a time", async () => {
    const relay = slicingRelay(port, 40);
    closers.push(() => relay.close());
    const relayPort = await listen(relay);
    // "POST / HTTP/1.1": "P" matches the preface's first byte, "O" does not.
    assert.equal(await h1Post(relayPort, "sliced"), "1.1 POST sliced");
  });

  it("closes a connection that never speaks, and goes on serving", async () => {
    const silent = net.connect(port, "127.0.0.1");
    closers.push(() => silent.destroy());
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const openedAt = Date.now();
      silent.on("error", reject);
      silent.on("close", () => resolve(Date.now() - openedAt));
      // Well past the sniff timeout: the test fails rather than hangs.
      setTimeout(() => reject(new Error("the silent connection is still open")), 5_000).unref();
    });
    assert.ok(closedAfter >= SNIFF_TIMEOUT_MS - 50, `closed after ${closedAfter} ms`);
    assert.equal(await h1Post(port, "after"), "1.1 POST after");
  });

  it("serves an h2c client after, and beside, an HTTP/1.1 client", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    assert.equal(await h1Post(port, "first", agent), "1.1 POST first");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    closers.push(() => session.destroy());
    assert.equal(await h2Post(session, "second"), "2.0 POST second");
    // The kept-alive HTTP/1.1 connection still answers, and h2c again.
    assert.equal(await h1Post(port, "third", agent), "1.1 POST third");
    assert.equal(await h2Post(session, "fourth"), "2.0 POST fourth");
  });
});
