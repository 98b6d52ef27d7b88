#!/usr/bin/env bash
# Add imitation's PreferenceComparisons to .venv, for the side-by-side cells of `pbrl bench`.
# imitation 1.0.1 pins gymnasium~=0.29 and stable-baselines3~=2.2.1; its preference
# comparisons run on pbrl's gymnasium 1.4 / SB3 2.9, so it goes in with --no-deps plus the two
# modules it imports that pbrl does not have (scipy, tqdm). pip then warns about the pins.
# Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run bash scripts/setup.sh first" >&2; exit 1; }
.venv/bin/python -m pip install -q "scipy==1.17.1" "tqdm==4.70.1"
.venv/bin/python -m pip install -q --no-deps "imitation==1.0.1" 2>&1 | grep -v "requires\|incompatible" || true
.venv/bin/python -c "from pbrl.imitation_pc import available; assert available(), 'imitation does not import'; print('imitation 1.0.1 ready: pbrl bench classic|mujoco now runs its cells')"
