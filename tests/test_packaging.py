"""The wheel installs envs/ and clip_ui/ inside the pbrl namespace, never as top-level modules."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_maps_envs_and_clip_ui_into_pbrl(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("pbrl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pbrl/envs/factory.py" in names
    assert "pbrl/clip_ui/__init__.py" in names
    assert "pbrl/py.typed" in names
    assert not any(n.startswith(("envs/", "clip_ui/", "tests/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    for extra in ("mujoco", "atari", "text", "dev", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "pbrl = pbrl.cli:main" in entry_points
