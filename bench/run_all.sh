#!/usr/bin/env bash
# Run every benchmark and print its figures. Needs `make db train` (make bench does it).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== OCR: invoice photos (synthetic dev + held-out sets): field accuracy, seconds per photo"
loyalty_backend/.venv/bin/python bench/ocr_bench.py
echo "== claims: judging throughput on PostgreSQL with 100,000 ERP lines loaded"
loyalty_backend/.venv/bin/python bench/claims_bench.py
echo "== rewards: redemptions/s on PostgreSQL with 16 clients, next to pgbench -N -c 16"
( cd loyalty_backend && exec .venv/bin/python ../bench/redemption_bench.py )
echo "== backend: balance lookup at 100 req/s for 20 s (uvicorn on :8100, demo SQLite DB)"
( cd loyalty_backend && exec .venv/bin/uvicorn app.main:app --port 8100 --log-level warning ) &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do curl -fsS -o /dev/null http://127.0.0.1:8100/health && break; sleep 1; done
loyalty_backend/.venv/bin/python bench/backend_balance.py --url http://127.0.0.1:8100 \
  --rate 100 --duration 20
kill $backend
echo "== bot: Rasa restart to first answer, REST message->reply, NLU parse, training time"
.venv/bin/python -m bench.bot_latency --train
echo "== WhatsApp: 20 new conversations/s for 60 s (statuses on) vs bare Rasa (REST channel)"
.venv/bin/python -m bench.whatsapp_bench burst
echo "== WhatsApp: webhook ack at 200 req/s for 30 s while a backlog of turns runs"
.venv/bin/python -m bench.whatsapp_bench ack
echo "== WhatsApp: scale-out, 2 Rasa workers, 80 msg/s for 60 s vs bare Rasa on the same workers"
.venv/bin/python -m bench.whatsapp_bench scale
echo "== WhatsApp: message in -> message out at 20 msg/s across 100 partners"
.venv/bin/python -m bench.whatsapp_bench roundtrip
echo "== claims in chat: invoice photo -> draft, confirm -> answer (whole stack)"
.venv/bin/python -m bench.claim_chat_bench
echo "== notices: 10,000 notices drained by the notifier (cap 80/s) through Rasa to the sandbox"
.venv/bin/python -m bench.notices_bench
echo "== a fresh clone: make run to the first answer"
.venv/bin/python -m bench.first_answer
