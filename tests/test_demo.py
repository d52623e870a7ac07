"""The README's main job: ``python -m wengert demo`` runs, checks itself and learns."""
import re
import subprocess
import sys

import pytest


def test_demo_runs_and_reaches_high_accuracy():
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    result = subprocess.run([sys.executable, "-m", "wengert", "demo", "--no-progress"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "all derivative checks passed" in result.stdout
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", result.stdout).group(1))
    assert accuracy > 95.0
