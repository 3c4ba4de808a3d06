"""Everything `snnc check` accepts, `snnc run` records: population and input variables, the
traces and signals of learning rules ('<projection>.<name>') and weight histories
('<projection>.w' -> '<projection>.w.history'), from `record` statements and `--record`, every
step or every N steps (`--record-every`)."""

import glob
import os
import pathlib

import numpy as np
import pytest

from snnc import recordings
from snnc.api import compile_network
from snnc.cli import main
from snnc.diagnostics import Diagnostics

ROOT = pathlib.Path(__file__).resolve().parents[1]
STDP = str(ROOT / "examples" / "stdp.snn")
RSTDP = str(ROOT / "examples" / "rstdp.snn")
EPROP = str(ROOT / "examples" / "eprop_randman.snn")
CUBA = str(ROOT / "examples" / "cuba.snn")


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


def run(*argv) -> int:
    return main(["run", *map(str, argv)])


def load(path) -> dict:
    """The arrays of a recording, with the spikes saved as events also rebuilt as bool arrays
    [steps, batch, *shape] under their own name."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    for name in recordings.names(arrays):
        arrays[name] = recordings.spikes_dense(arrays, name)
    return arrays


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "examples" / "*.snn"))),
                         ids=os.path.basename)
def test_every_record_statement_of_the_examples_is_honoured(path, tmp_path):
    net = compile_network(path, Diagnostics())
    assert net is not None
    out = tmp_path / "out.npz"
    assert run(path, "--steps", "3", "-o", out) == 0
    saved = load(out)
    for record in net.records:
        key = f"{record.owner}.{record.variable}"
        key += ".history" if record.variable == "w" else ""
        assert key in saved, key
        assert saved[key].shape[0] == 3


def test_program_records_of_traces_and_weights(tmp_path):
    """rstdp.snn records 'pattern->actor.w' and its per-synapse eligibility trace 'c'."""
    data, out = tmp_path / "data.npz", tmp_path / "out.npz"
    np.savez(data, pattern=np.random.default_rng(1).random((40, 50)) < 0.5, reward=np.ones(40))
    assert run(RSTDP, "--steps", "40", "--input", data, "-o", out) == 0
    saved = load(out)
    w, history, c = saved["pattern->actor.w"], saved["pattern->actor.w.history"], \
        saved["pattern->actor.c"]
    assert history.shape == (40, *w.shape)
    assert np.array_equal(history[-1], w)  # the last recorded step holds the final weights
    assert c.shape[:2] == (40, 1) and c.shape[2:] in ((w.size,), w.shape)
    assert np.abs(c).sum() > 0  # the trace moves, and with a reward the weights
    assert not np.array_equal(history[0], history[-1])


def test_record_option_every_n_steps(tmp_path):
    every, sparse = tmp_path / "every.npz", tmp_path / "sparse.npz"
    names = "out.v,poisson_in->out.w,poisson_in->out.x_pre,poisson_in->out.y_post"
    assert run(STDP, "--steps", "95", "--record", names, "-o", every) == 0
    assert run(STDP, "--steps", "95", "--record", names, "--record-every", "10",
               "-o", sparse) == 0
    a, b = load(every), load(sparse)
    assert int(a["record_every"]) == 1 and int(b["record_every"]) == 10
    assert a["poisson_in->out.x_pre"].shape == (95, 1, 100)
    assert a["poisson_in->out.y_post"].shape == (95, 1, 10)
    assert a["poisson_in->out.w.history"].shape == (95, 10, 100)
    for key in ("out.v", "poisson_in->out.w.history", "poisson_in->out.x_pre",
                "poisson_in->out.y_post"):
        assert b[key].shape[0] == 10  # steps 0, 10, ..., 90
        assert np.array_equal(b[key], a[key][::10]), key
    assert np.array_equal(a["poisson_in->out.w"], b["poisson_in->out.w"])
    assert "out.s" not in b  # only what was asked for (spikes are still counted)


def test_spikes_every_n_steps_are_the_events_of_those_steps(tmp_path):
    every, sparse, dense = (tmp_path / f"{name}.npz" for name in ("every", "sparse", "dense"))
    assert run(CUBA, "--steps", "95", "--batch", "2", "--record", "exc.s", "-o", every) == 0
    for out, option in ((sparse, ()), (dense, ("--record-dense",))):
        assert run(CUBA, "--steps", "95", "--batch", "2", "--record", "exc.s",
                   "--record-every", "10", *option, "-o", out) == 0
    a, b, c = load(every), load(sparse), load(dense)
    assert "exc.s.events.step" not in c  # --record-dense: no events
    assert c["exc.s"].dtype == bool and c["exc.s"].shape == (10, 2, 3200)
    assert a["exc.s"][::10].sum() > 10  # spikes at the kept steps, of both samples
    assert a["exc.s"][::10, 1].any()
    assert np.array_equal(b["exc.s"], a["exc.s"][::10])
    assert np.array_equal(c["exc.s"], a["exc.s"][::10])
    assert list(b["exc.s.events.shape"]) == [10, 2, 3200]
    assert b["exc.s.events.step"].max() < 10  # rows of the kept steps, not step numbers


def test_signals_are_recordable(tmp_path):
    data = tmp_path / "data.npz"
    np.savez(data, units=np.random.default_rng(0).random((20, 2, 20)) < 0.3,
             **{"target.out": np.array([1, 4])})
    out = tmp_path / "out.npz"
    assert run(EPROP, "--steps", "20", "--batch", "2", "--input", data, "--record",
               "units->hidden.L,units->hidden.zbar,hidden->out.err", "-o", out) == 0
    saved = load(out)
    assert saved["units->hidden.L"].shape == (20, 2, 128)
    assert saved["units->hidden.zbar"].shape == (20, 2, 20)
    assert saved["hidden->out.err"].shape == (20, 2, 10)
    assert np.abs(saved["hidden->out.err"]).sum() > 0


def test_the_current_of_a_population_fed_through_receptors_is_their_sum(tmp_path):
    program = tmp_path / "receptors.snn"
    program.write_text("""network receptors { dt = 1 ms }
input drive[10]: poisson(rate = 100 Hz)
population a: LIF[4] { tau_mem = 10 ms }
population b: LIF[3]
drive -> a: dense {
  weight = 0.2
  receptor fast(tau = 2 ms)
}
drive -> a as slow: dense {
  weight = 0.1
  receptor slow(tau = 20 ms)
}
record a.i, b.i, a.v
""")
    out = tmp_path / "out.npz"
    assert run(program, "--steps", "30", "-o", out) == 0
    saved = load(out)
    assert saved["a.i"].shape == (30, 1, 4) and saved["b.i"].shape == (30, 1, 3)
    assert saved["a.i"].sum() > 0 and not saved["b.i"].any()  # b has no input at all


@pytest.mark.parametrize("words,hint", [
    ("nosuch.w", None),
    ("poisson_in->out.x_pr", "poisson_in->out.x_pre"),
    ("out.q", None),
])
def test_unknown_names_to_record_are_e605(tmp_path, capsys, words, hint):
    assert run(STDP, "--steps", "5", "--record", words) == 1
    err = capsys.readouterr().err
    assert "error[E605]" in err and f"'{words}'" in err
    if hint:
        assert hint in err


def test_record_every_must_be_positive(capsys):
    assert run(STDP, "--steps", "5", "--record-every", "0") == 2
    assert "--record-every" in capsys.readouterr().err


def test_help_text_names_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for words in ("--record-every", "--allow-nonfinite", "<projection>.w.history",
                  "<projection>.<trace"):
        assert words in text
