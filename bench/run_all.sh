#!/usr/bin/env bash
# Run every benchmark and print its figures. Needs `make db train` (make bench does it).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== backend: balance lookup at 100 req/s for 20 s (uvicorn on :8100, demo SQLite DB)"
( cd loyalty_backend && exec .venv/bin/uvicorn app.main:app --port 8100 --log-level warning ) &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do curl -fsS -o /dev/null http://127.0.0.1:8100/health && break; sleep 1; done
loyalty_backend/.venv/bin/python bench/backend_balance.py --url http://127.0.0.1:8100 \
  --rate 100 --duration 20
kill $backend
echo "== bot: REST message->reply, NLU parse, training time"
.venv/bin/python -m bench.bot_latency --train
echo "== WhatsApp: webhook ack at 200 req/s for 30 s per inbound queue, and the REST channel"
.venv/bin/python -m bench.whatsapp_bench ack
echo "== WhatsApp: message in -> message out at 20 msg/s across 100 partners"
.venv/bin/python -m bench.whatsapp_bench roundtrip
