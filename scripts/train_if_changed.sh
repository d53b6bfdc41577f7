#!/usr/bin/env bash
# Train only when the training inputs changed: the model is named after a hash of
# config.yml, bot/domain.yml, bot/data/ and the custom NLU components (nlu_components/). An existing model for that hash is reused
# (and touched, so `rasa run -m models` picks it as the newest).
set -euo pipefail
cd "$(dirname "$0")/.."
rasa_version=$(.venv/bin/python -c "import rasa; print(rasa.__version__)")
inputs=$( { echo "$rasa_version"; cat config.yml bot/domain.yml;
            find bot/data -type f -name '*.yml' | LC_ALL=C sort | xargs cat;
            find nlu_components -type f \( -name '*.py' -o -name '*.txt' \) | LC_ALL=C sort | xargs cat; } \
          | sha256sum | cut -c1-16)
model="models/mitra-$inputs.tar.gz"
if [[ -f "$model" && "${1:-}" != "--force" ]]; then
  touch "$model"
  echo "Model up to date: $model (training data and config unchanged)"
  exit 0
fi
.venv/bin/rasa train --domain bot/domain.yml --data bot/data --config config.yml \
  --out models --fixed-model-name "mitra-$inputs"
