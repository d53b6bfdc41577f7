#!/usr/bin/env bash
# Start the loyalty backend, the action server, Rasa (WhatsApp channel + HTTP API) and the
# WhatsApp sandbox; print where each one is; stop them all on Ctrl-C.
# `run_all.sh --shell <wa_id>` starts backend and actions, then a terminal chat as that partner.
# Expects the environment from the Makefile (make run / make shell).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/log

BACKEND_PORT=${BACKEND_PORT:-8000}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
RASA_PORT=${RASA_PORT:-5005}
SANDBOX_PORT=${SANDBOX_PORT:-8090}
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

start() {  # start <name> <command...>: run in the background, log to var/log/<name>.log
  local name=$1; shift
  "$@" >"var/log/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() {  # wait_for <name> <url> <seconds>
  local name=$1 url=$2 limit=$3
  for _ in $(seq 1 "$limit"); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "!! $name did not come up at $url; last lines of var/log/$name.log:" >&2
  tail -n 30 "var/log/$name.log" >&2
  exit 1
}

start backend bash -c "cd loyalty_backend && exec .venv/bin/uvicorn app.main:app \
  --host 127.0.0.1 --port $BACKEND_PORT"
start actions .venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT"
wait_for backend "http://127.0.0.1:$BACKEND_PORT/health" 60
wait_for actions "http://127.0.0.1:$ACTIONS_PORT/health" 90

if [[ "${1:-}" == "--shell" ]]; then
  partner=${2:-6281200000001}
  echo "Chatting as partner $partner (Ctrl-D or /stop to leave)."
  .venv/bin/rasa shell -m models --endpoints endpoints.yml \
    --conversation-id "$partner"
  exit 0
fi

start sandbox .venv/bin/python -m sandbox --port "$SANDBOX_PORT"
start rasa .venv/bin/rasa run --enable-api --auth-token "$RASA_AUTH_TOKEN" -m models \
  --endpoints endpoints.yml --credentials credentials.yml --port "$RASA_PORT"
wait_for sandbox "http://127.0.0.1:$SANDBOX_PORT/sandbox/partners" 60
wait_for rasa "http://127.0.0.1:$RASA_PORT/" 180

cat <<INFO

Mitra is running (logs in var/log/):
  WhatsApp sandbox (web phone)  http://127.0.0.1:$SANDBOX_PORT/
  Rasa (WhatsApp webhook)       http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook
  Action server                 http://127.0.0.1:$ACTIONS_PORT/health
  Loyalty backend API docs      http://127.0.0.1:$BACKEND_PORT/docs
Press Ctrl-C to stop everything.
INFO
wait -n "${pids[@]}"
echo "!! a process stopped; see var/log/. Stopping the others." >&2
