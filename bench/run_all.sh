#!/usr/bin/env bash
# Run every benchmark and print its figures (see bench/README.md). Needs `make train`.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== backend: balance lookup at 100 req/s for 20 s"
( cd loyalty_backend && .venv/bin/python ../bench/backend_balance.py --start --rate 100 --duration 20 )
echo "== bot: REST message->reply, NLU parse, training time"
.venv/bin/python -m bench.bot_latency --train
echo "== WhatsApp: webhook ack vs REST channel at 200 req/s for 30 s"
.venv/bin/python -m bench.whatsapp_bench ack
echo "== WhatsApp: message in -> message out at 20 msg/s across 100 partners"
.venv/bin/python -m bench.whatsapp_bench roundtrip
