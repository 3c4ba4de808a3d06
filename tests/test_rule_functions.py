"""Adding a rule function is one entry of snnc.functions.RULE_FUNCTIONS (issue 14).

``sigmoid`` was added that way: with no other change, the lowering accepts it, the locality
report lists it as nonlinear, the reference simulator runs it (checked against the closed form
in tests/test_backend_rules.py, which covers every table function) and Loihi 2 refuses it
with E307 at the projection that uses it.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from snnc.cli import main
from snnc.functions import RULE_FUNCTIONS

PROGRAM = pathlib.Path(__file__).parent / "fixtures" / "rules" / "sigmoid_hebb.snn"


@pytest.mark.parametrize("x", [-1000.0, -30.0, -1.0, 0.0, 0.25, 3.0, 40.0, 1000.0])
def test_sigmoid_folds_to_the_logistic_function_without_overflow(x):
    expected = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    assert RULE_FUNCTIONS["sigmoid"].fold(x) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_sigmoid_numpy_form_is_the_logistic_function():
    x = np.linspace(-30, 30, 121)
    form = RULE_FUNCTIONS["sigmoid"].numpy.format("x")
    value = eval(form, {"np": np, "x": x})  # noqa: S307 - the table's own format string
    np.testing.assert_allclose(value, 1.0 / (1.0 + np.exp(-x)), rtol=1e-12)


def test_the_locality_report_lists_sigmoid_as_nonlinear(capsys):
    assert main(["check", str(PROGRAM), "--report", "locality"]) == 0
    out = capsys.readouterr().out
    assert "class a (synapse-local)" in out
    assert "nonlinear     sigmoid applied to variables" in out


def test_loihi2_refuses_sigmoid_with_e307_at_the_projection(capsys):
    assert main(["check", str(PROGRAM), "--target", "loihi2"]) == 1
    err = capsys.readouterr().err
    assert "error[E307]" in err and "uses sigmoid on variables" in err
    assert f"{PROGRAM.name}:20:9" in err  # 'learn soft_hebb()'


def test_the_reference_simulator_runs_sigmoid_and_the_weights_learn(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main(["run", str(PROGRAM), "--steps", "100", "-o", str(out)]) == 0
    with np.load(out) as data:
        history, final = data["x->h.w.history"], data["x->h.w"]
    assert history.shape == (100, 10, 20) and np.array_equal(history[-1], final)
    assert np.all(np.isfinite(history)) and np.all(final > 0.3)  # every synapse learned
    assert np.all(np.diff(history, axis=0) >= 0)  # x_pre >= 0 and sigmoid > 0: only potentiation


def test_every_table_function_is_documented_in_the_learning_docs():
    text = (pathlib.Path(__file__).parents[1] / "docs/learning.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`") for line in text.splitlines()
            if line.startswith("| `")}
    missing = sorted(set(RULE_FUNCTIONS) - rows)
    assert not missing, f"docs/learning.md's function table lacks {missing}"
