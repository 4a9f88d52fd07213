#!/usr/bin/env bash
# Measures how late reminders reach the sender: api, scheduler and sender as
# three processes on the local PostgreSQL and RabbitMQ, N reminders falling
# due at random over the next ~20 s, lateness (delivered - notify_at) read off
# the sender's log lines. Usage: scripts/measure_reminder_lateness.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
run="lat_$$"
work=$(mktemp -d)
export DATABASE_URL="postgres://root@127.0.0.1:5432/$run"
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
export AMQP_NOTIFICATIONS_EXCHANGE=$run.n AMQP_NOTIFICATIONS_QUEUE=$run.n AMQP_DEAD_LETTER_EXCHANGE=$run.dlx
export AMQP_DEAD_LETTER_QUEUE=$run.dlq AMQP_STATUS_EXCHANGE=$run.status LOG_LEVEL=info
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
api_port=$(free_port)

cleanup() {
  kill -TERM -- -"$api" -"$scheduler" -"$sender" 2>/dev/null || true
  sleep 2
  psql -h 127.0.0.1 -U root -d test -qc "drop database if exists $run" >/dev/null 2>&1 || true
  RUN=$run node -e '
    const amqp = require("amqplib");
    const run = process.env.RUN;
    amqp.connect(process.env.AMQP_URL).then(async (c) => {
      const ch = await c.createChannel();
      for (const q of [run + ".n", run + ".dlq"]) await ch.deleteQueue(q);
      for (const x of [run + ".n", run + ".dlx", run + ".status"]) await ch.deleteExchange(x);
      await c.close();
    });
  ' >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql -h 127.0.0.1 -U root -d test -qc "create database $run"
npx tsx cmd/cal_service.ts migrate 2>"$work/migrate.log"
API_HOST=127.0.0.1 API_PORT=$api_port setsid npx tsx cmd/cal_service.ts api 2>"$work/api.log" & api=$!
API_HOST=127.0.0.1 SCHEDULER_PORT=0 setsid npx tsx cmd/cal_service.ts scheduler 2>"$work/scheduler.log" & scheduler=$!
API_HOST=127.0.0.1 SENDER_PORT=0 setsid npx tsx cmd/cal_service.ts sender 2>"$work/sender.log" & sender=$!
until curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null; do sleep 0.5; done
sleep 2

echo "creating $count events whose reminders fall due over the next 20 s"
API="http://127.0.0.1:$api_port" COUNT=$count node -e '
  const now = Date.now();
  const calls = Array.from({ length: Number(process.env.COUNT) }, (_, i) => {
    const notifyAt = now + 3000 + Math.floor(Math.random() * 20000);
    return fetch(process.env.API + "/calendar.v1.CalendarService/CreateEvent", {
      method: "POST",
      headers: { "content-type": "application/json", "x-user-id": "lateness-" + i },
      body: JSON.stringify({ event: { title: "lateness probe", startTime: new Date(notifyAt + 60000).toISOString(), duration: "60s", notifyBefore: "60s" } }),
    }).then((r) => r.status);
  });
  Promise.all(calls).then((s) => { if (s.some((x) => x !== 200)) { console.error("create failed", s); process.exit(1); } });
'
for i in $(seq 1 40); do
  delivered=$(grep -c '"reminder delivered"' "$work/sender.log" || true)
  printf '\r%s/%s delivered' "$delivered" "$count"
  [ "$delivered" -ge "$count" ] && break
  sleep 1
done
echo
grep '"reminder delivered"' "$work/sender.log" | node -e '
  const ms = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l).latenessMs).sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  console.log(JSON.stringify({ delivered: ms.length, latenessMs: { p50: q(0.5), p99: q(0.99), max: ms[ms.length - 1] } }));
'
