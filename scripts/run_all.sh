#!/usr/bin/env bash
# Start the loyalty backend, the action server, Rasa (WhatsApp channel + HTTP API) and the
# WhatsApp sandbox; print where each one is; stop them all on Ctrl-C.
# `run_all.sh --shell <wa_id>` starts backend and actions, then a terminal chat as that partner.
# Expects the layered environment from the Makefile (make run / make shell start it through
# `python -m mitra_config.launch`). Every process binds to 127.0.0.1: only the WhatsApp
# webhook is meant to face the internet, through a reverse proxy (README, docs/security.md).
# Each process is started through the launcher with the secrets it holds, so a missing or
# (in production) unfit secret stops it with the variable's name.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_DIR=${MITRA_LOG_DIR:-var/log}
mkdir -p "$LOG_DIR"

BACKEND_PORT=${BACKEND_PORT:-8000}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
RASA_PORT=${RASA_PORT:-5005}
SANDBOX_PORT=${SANDBOX_PORT:-8090}
GATEWAY_PORT=${WHATSAPP_GATEWAY_PORT:-5006}
RASA_INTERFACE=${RASA_INTERFACE:-127.0.0.1}
# WHATSAPP_INGRESS=gateway (.env.example): webhooks reach a process of their own that only
# stores and acknowledges them; the processes that run turns start at a lower CPU
# priority, so a burst of turns never delays an acknowledgement (docs/architecture.md).
case "${WHATSAPP_INGRESS:-rasa}" in
  gateway) use_gateway=true; NICE=(nice -n "${MITRA_TURN_NICENESS:-10}") ;;
  rasa) use_gateway=false; NICE=() ;;
  *) echo "!! WHATSAPP_INGRESS must be gateway or rasa, not '$WHATSAPP_INGRESS'" >&2; exit 2 ;;
esac
# The processes find each other through these (endpoints.yml reads ACTION_SERVER_URL).
export BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
export ACTION_SERVER_URL="http://127.0.0.1:$ACTIONS_PORT/webhook"
if $use_gateway; then webhook_port=$GATEWAY_PORT; else webhook_port=$RASA_PORT; fi
export SANDBOX_WEBHOOK_URL="http://127.0.0.1:$webhook_port/webhooks/whatsapp/webhook"
use_sandbox=false
if [[ "${WHATSAPP_API_BASE_URL:-}" =~ ^http://127\.0\.0\.1: ]]; then
  use_sandbox=true  # the sandbox plays the Graph API; a real URL switches it off
  export WHATSAPP_API_BASE_URL="http://127.0.0.1:$SANDBOX_PORT"
fi
LAUNCH=(.venv/bin/python -m mitra_config.launch)
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

start() {  # start <name> <command...>: run in the background, log to $LOG_DIR/<name>.log
  local name=$1; shift
  "$@" >"$LOG_DIR/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() {  # wait_for <name> <url> <seconds>
  local name=$1 url=$2 limit=$3
  for _ in $(seq 1 "$limit"); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "!! $name did not come up at $url; last lines of $LOG_DIR/$name.log:" >&2
  tail -n 30 "$LOG_DIR/$name.log" >&2
  exit 1
}

# The backend reaches Rasa's HTTP API (agents' replies, hand-backs) at RASA_URL.
export RASA_URL="http://127.0.0.1:$RASA_PORT"
start backend "${NICE[@]}" bash -c "cd loyalty_backend && exec .venv/bin/uvicorn app.main:app \
  --host 127.0.0.1 --port $BACKEND_PORT"
# The program's notices: the notifier drains the backend's outbox into Rasa (needs Rasa's
# API, so it retries until Rasa is up); the scheduler queues reminders and summaries.
start notifier "${NICE[@]}" "${LAUNCH[@]}" --require RASA_AUTH_TOKEN -- \
  bash -c "cd loyalty_backend && exec .venv/bin/python -m app.notifier"
start scheduler "${NICE[@]}" bash -c "cd loyalty_backend && exec .venv/bin/python -m app.scheduler"
start actions "${NICE[@]}" "${LAUNCH[@]}" --require ACTION_SERVER_TOKEN,SERVICE_TOKEN -- \
  .venv/bin/python -m actions.server --host 127.0.0.1 --port "$ACTIONS_PORT"
wait_for backend "http://127.0.0.1:$BACKEND_PORT/health" 60
wait_for actions "http://127.0.0.1:$ACTIONS_PORT/health" 90

if [[ "${1:-}" == "--shell" ]]; then
  partner=${2:-6281200000001}
  echo "Chatting as partner $partner (Ctrl-D or /stop to leave)."
  # Loopback only: the shell's channel has no authentication.
  "${LAUNCH[@]}" --require ACTION_SERVER_TOKEN -- .venv/bin/rasa shell -m models \
    --endpoints endpoints.yml --conversation-id "$partner" -i 127.0.0.1 --port "$RASA_PORT"
  exit 0
fi

if $use_sandbox; then start sandbox .venv/bin/python -m sandbox --port "$SANDBOX_PORT"; fi
# Rasa's HTTP API (read any conversation, send as the business, replace the model) is
# served only when a feature needs it, and then only with the generated RASA_AUTH_TOKEN.
rasa_secrets=ACTION_SERVER_TOKEN,WHATSAPP_APP_SECRET,WHATSAPP_ACCESS_TOKEN,WHATSAPP_VERIFY_TOKEN,WHATSAPP_REPORT_TOKEN
api_args=()
case "${RASA_ENABLE_API:-true}" in
  true|1|yes|on) api_args=(--enable-api --auth-token "${RASA_AUTH_TOKEN:-}")
                 rasa_secrets+=,RASA_AUTH_TOKEN ;;
  false|0|no|off|"") ;;
  *) echo "!! RASA_ENABLE_API must be true or false, not '$RASA_ENABLE_API'" >&2; exit 2 ;;
esac
if $use_gateway; then
  start gateway "${LAUNCH[@]}" --require WHATSAPP_APP_SECRET,WHATSAPP_ACCESS_TOKEN,WHATSAPP_VERIFY_TOKEN,WHATSAPP_REPORT_TOKEN \
    -- .venv/bin/python -m connectors.gateway --host 127.0.0.1 --port "$GATEWAY_PORT"
fi
start rasa "${NICE[@]}" "${LAUNCH[@]}" --require "$rasa_secrets" -- .venv/bin/rasa run "${api_args[@]}" \
  -m models --endpoints endpoints.yml --credentials credentials.yml \
  -i "$RASA_INTERFACE" --port "$RASA_PORT"
if $use_sandbox; then wait_for sandbox "http://127.0.0.1:$SANDBOX_PORT/sandbox/partners" 60; fi
wait_for rasa "http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/" 180
if $use_gateway; then wait_for gateway "http://127.0.0.1:$GATEWAY_PORT/webhooks/whatsapp/" 30; fi

cat <<INFO

Mitra is running (logs in $LOG_DIR/):
  WhatsApp sandbox (web phone)  http://127.0.0.1:$SANDBOX_PORT/
  WhatsApp webhook (public)     http://127.0.0.1:$webhook_port/webhooks/whatsapp/webhook
  Rasa (runs the turns)         http://127.0.0.1:$RASA_PORT/
  Action server (Rasa only)     http://127.0.0.1:$ACTIONS_PORT/health
  Loyalty backend API docs      http://127.0.0.1:$BACKEND_PORT/docs
  Support console               http://127.0.0.1:$BACKEND_PORT/console
INFO
if [[ -n "${DEMO_AGENT_EMAIL:-}" && "${APP_ENV:-development}" != production ]]; then
  cat <<LOGINS
  Console demo logins (from .env): agent $DEMO_AGENT_EMAIL / ${DEMO_AGENT_PASSWORD:-}
                                   admin $DEMO_ADMIN_EMAIL / ${DEMO_ADMIN_PASSWORD:-}
LOGINS
fi
echo "Press Ctrl-C to stop everything."
wait -n "${pids[@]}"
echo "!! a process stopped; see $LOG_DIR/. Stopping the others." >&2
