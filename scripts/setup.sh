#!/usr/bin/env bash
# Create .venv and install pbrl with every extra (mujoco, atari, text, dev), versions pinned
# in constraints.txt (a CPU build of torch). Safe to run again: it reuses .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries: MuJoCo renders headless through EGL on Mesa (CPU), opencv needs libGL,
# the rating app's real-window test runs on an Xvfb X server.
need=()
for pkg in libegl1 libgl1 libgl1-mesa-dri libglib2.0-0 xvfb; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system libraries: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing system libraries ${need[*]}; install them (apt-get install ${need[*]}) for MuJoCo rendering and the app's X test" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip>=24"
# torch first, pinned, so that nothing pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[all]"
echo "pbrl installed in .venv ($(.venv/bin/python -c 'import pbrl; print(pbrl.__version__)'))"
# A local PostgreSQL server for the PostgreSQL label store and its tests (Debian's package;
# root only: elsewhere those tests are skipped, saying how to start one).
if [ "$(id -u)" = 0 ]; then
  bash scripts/start-postgres.sh >/dev/null && echo "PostgreSQL server running (scripts/start-postgres.sh)"
else
  echo "not root: no local PostgreSQL server started; its store tests will be skipped (see scripts/start-postgres.sh)"
fi
