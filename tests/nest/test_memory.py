"""NEST's memory estimate (snnc.backends.nest.memory) against a measured run of the emitted
program: the peak resident set of run.py for CUBA at in-degree 80 (4000 neurons, 500 steps)
lies within 20 % of the estimate."""

from __future__ import annotations

import json
import subprocess
import sys

import snnc
from snnc.backends.nest.memory import estimate_nest
from snnc.diagnostics import Diagnostics
from tests.nest.conftest import snnc as snnc_cli
from tests.test_nest_memory import cuba

MEASURE = """
import json, runpy, sys
sys.argv = ["run.py", "--steps", sys.argv[1], "-o", "out.npz"]
try:
    runpy.run_path("run.py", run_name="__main__")
except SystemExit:
    pass
# VmHWM: the peak of this process's own address space (ru_maxrss would keep the resident set
# of the forking pytest process, which Linux carries across exec)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"peak": int(hwm.split()[1]) * 1024}))
"""


def test_the_estimate_matches_a_measured_run(tmp_path):
    path = tmp_path / "cuba.snn"
    path.write_text(cuba(4_000, "50 ms"))
    out = tmp_path / "program"
    result = snnc_cli("compile", str(path), "--emit", "nest", "-o", str(out))
    assert result.returncode == 0, result.stderr
    done = subprocess.run([sys.executable, "-c", MEASURE, "500"], cwd=out, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    peak = json.loads(done.stdout.strip().splitlines()[-1])["peak"]
    net = snnc.compile_file(str(path), Diagnostics())
    estimate = estimate_nest(net, steps=500).total
    assert 0.8 < peak / estimate < 1.2, (peak, estimate)
