#!/usr/bin/env bash
# Issue 18 on the GPU machine (device tool: one H200, 16 cores, no network, 15 minutes of device
# time a session, 10 a command). The machine lacks gymnasium, SB3, ale-py: their wheels travel in
# .whlatari (4 MB; make it once here, see below). One call, with carry [".whlatari"]:
#   bash scripts/device/atari_gpu.sh
# 1. `pbrl bench atari --speed` on CUDA: each part's steps/s and the wall-time ratio to true-reward
#    PPO they make (the GPU target: <= 1.2x), into $OUT/speed.md (commit it as
#    benchmarks/atari/speed-gpu.md: the report shows it beside the CPU's table).
# 2. Pong, true-reward PPO beside pbrl at LABELS labels, STEPS agent steps each, one seed, both
#    cells at once on the GPU (--workers 2), stopped at BUDGET seconds: ordinary bench cells,
#    their curves and summaries in $OUT/results.tgz (unpack it into benchmarks/atari/gpu/, not
#    the CPU grid's cells/: a cell's name does not carry its steps; NOTES.md names the machine).
#    The paper's scale (10M frames = 2.5M agent steps, 3,300 labels) is STEPS=2500000; at
#    FACTS.md's 1,454 agent steps/s for PPO on this GPU it needs ~30 minutes, twice a session's
#    device time, so the default is the run that fits one command.
# Making .whlatari here (x86-64 wheels for the machine's Python 3.12):
#   echo /.whlatari/ >> .git/info/exclude; mkdir -p .whlatari
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .whlatari ale-py==0.12.1 gymnasium==1.4.0 \
#     stable-baselines3==2.9.2 farama-notifications==0.0.6
set -uo pipefail
STEPS=${STEPS:-300000} LABELS=${LABELS:-3300} BUDGET=${BUDGET:-420} SEED=${SEED:-0}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  .whlatari/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PBRL_TORCH_THREADS=${PBRL_TORCH_THREADS:-4}
ln -sfn "$PWD/envs" pbrl/envs && ln -sfn "$PWD/clip_ui" pbrl/clip_ui
nproc; nvidia-smi -L
python3 -c "import torch, ale_py, stable_baselines3 as sb3; print(torch.__version__, torch.cuda.is_available(), sb3.__version__)"
timeout 150 python3 -m pbrl bench atari --speed --out "$OUT" 2>&1 | tee "$OUT/speed-log.txt"
timeout "$BUDGET" python3 -m pbrl bench atari --task pbrl/Pong-v5 --steps "$STEPS" --labels "$LABELS" \
  --seeds "$SEED" --workers 2 --out /tmp/bench 2>&1 | tee "$OUT/log.txt"
# $OUT brings back at most 8 files: the cells, curves and summaries travel as one archive
(cd /tmp/bench && tar czf "$OUT/results.tgz" cells $(ls runs/*/{curves.png,curves.csv,summary.json,progress.json,\
baseline.json,refits.csv} 2>/dev/null))
tar tzvf "$OUT/results.tgz"
