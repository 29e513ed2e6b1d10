"""``encoder/gpu_train.sh``, the one-call GPU session, tried on this machine's CPU (``DEVICE=cpu``).

A lent GPU comes with minutes, not hours: a script that fails there costs the session's whole
device time. This runs the script with the largest sets it accepts, cut short by its own time box,
and checks what a device call depends on: every set generates (none asks for seeds outside the
generator's training range), the candidate is trained and saved, and ``PACK=1`` leaves few
enough files for the device tool to bring back (at most 8).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

from orchestrator.settings import REPO_ROOT, Settings


def test_every_set_generates_and_the_candidate_comes_back_packed(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    env = {
        **os.environ, "OUT": str(out), "WORK": str(work), "PYTHON": sys.executable, "DEVICE": "cpu", "CHECK": "0",
        "GEN_S": "20", "TRAIN_MIN": "0.02", "N_PLAIN": "1000", "N_STRAND": "1000",
        "RENDER_FAMILIES": "all", "HOLD_OUT": "scatter", "OWN_LOOK": "1", "LESION_MIX": "varied",
        "ZOOM_OUT": "0.35", "ZOOM_IN": "0.35", "TEXTURE": "0.3", "VISIBLE_LUNGS": "1", "CANDIDATES": "A", "PACK": "1", "CONSPICUITY": "1,2",
        "HIDDEN": "0.3", "SMALL_NODULES": "200", "DEVICES": "all,-pacemaker", "DEVICE_WEIGHT": "20",
        "INIT_A": str(REPO_ROOT / "encoder/weights/stage-o-candidate/anatomy_encoder.pt"),
    }
    env["HILUM_CACHE_DIR"] = str(Settings().cache_dir)  # the suite's phantom cache, not a rebuild under WORK
    done = subprocess.run(["bash", str(REPO_ROOT / "encoder/gpu_train.sh")], env=env, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]

    timeline = (out / "timeline.txt").read_text()
    counts = dict(item.split() for item in timeline.split("cases: ")[1].splitlines()[0].strip("; ").split("; "))
    assert set(counts) == {"plain", "strand", "own", "own_strand", "mix", "small"}
    assert all(int(n) >= 1 for n in counts.values()), counts
    assert sorted(p.name for p in out.iterdir()) == ["candA.pt", "logs.tgz", "timeline.txt"]
    with tarfile.open(out / "logs.tgz") as logs:
        names = [m.name for m in logs.getmembers() if m.isfile()]
        text = "".join(logs.extractfile(m).read().decode(errors="replace") for m in logs.getmembers() if m.isfile())
    assert {"./gen_plain.log", "./gen_mix.log", "./trainA.log"} <= set(names)
    assert "refusing" not in text and "Traceback" not in text
    assert text.count("lesion conspicuity: (1.0, 2.0)") == len(counts)  # every phantom set drew its lesions' gains
    assert text.count("hidden lesions: 0.3") == len(counts)  # ... and placed a share of them hidden
    assert text.count("devices: all,-pacemaker on 30% of films") == len(counts)  # ... and put devices on a share
    assert "'device_weight': 20.0" in text  # ... which the candidate weighed as hard negatives
    assert "'zoom_in_p': 0.35" in text  # ... and enlarged a share of its samples
