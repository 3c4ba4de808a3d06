"""The command line: exit codes, text and JSON output, help, and no tracebacks."""

import json
import pathlib
import subprocess
import sys

import pytest

from snnc.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "eprop_randman.snn")


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_prints_a_one_screen_summary(capsys):
    status, out, err = run(capsys, "check", EXAMPLE)
    assert status == 0 and err == ""
    assert "network randman_eprop: dt 1 ms, seed 42, exact integration" in out
    assert "populations     2             138 neurons" in out
    assert "hidden->hidden" in out and "eprop" in out
    assert len(out.splitlines()) <= 40


def test_check_json_has_the_same_data(capsys):
    status, out, _ = run(capsys, "check", EXAMPLE, "--format", "json")
    document = json.loads(out)
    assert status == 0 and document["ok"] is True and document["diagnostics"] == []
    summary = document["summary"]
    assert summary["neurons"] == 138
    assert summary["synapses"] == 20 * 128 + 128 * 128 + 128 * 10
    assert [p["rules"] for p in summary["projections"]] == [["eprop"], ["eprop"], ["delta"]]


def test_check_several_files_and_json_list(capsys):
    files = [str(p) for p in sorted((ROOT / "examples").glob("*.snn"))]
    status, out, _ = run(capsys, "check", *files, "--format", "json")
    document = json.loads(out)
    assert status == 0 and [d["file"] for d in document] == files


def test_errors_exit_1_with_code_caret_and_hint(tmp_path, capsys):
    path = tmp_path / "bad.snn"
    path.write_text("population hidden: CubaLFI[128]\n")
    status, out, err = run(capsys, "check", str(path))
    assert status == 1 and out == ""
    assert f"{path}:1:20: error[E203]: unknown neuron model 'CubaLFI'" in err
    assert "^^^^^^^" in err and "did you mean 'CubaLIF'?" in err
    assert "Traceback" not in err


def test_errors_in_json_are_structured(tmp_path, capsys):
    path = tmp_path / "bad.snn"
    path.write_text("network n { dt = 1 msec }\n")
    status, out, _ = run(capsys, "check", str(path), "--format", "json")
    (diagnostic,) = json.loads(out)["diagnostics"]
    assert status == 1
    assert diagnostic["code"] == "E123"
    assert diagnostic["span"] == {"file": str(path), "line": 1, "column": 20, "end_line": 1,
                                  "end_column": 24}


def test_missing_file_is_a_diagnostic(capsys):
    status, _, err = run(capsys, "check", "/nonexistent/x.snn")
    assert status == 1 and "E601" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["check"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert main([]) == 2


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"]])
def test_help_describes_commands(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    out = capsys.readouterr().out
    assert caught.value.code == 0
    assert "check" in out
    if argv == ["--help"]:
        assert "import-nir" in out and "exit status" in out


def test_console_script_and_module_agree():
    result = subprocess.run([sys.executable, "-m", "snnc", "check", EXAMPLE, "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_passes_lists_the_pipeline_in_order(capsys):
    """The default pipeline first, in order, then what snnc map adds: every registered pass."""
    from snnc.passes import DEFAULT_PIPELINE, MAPPING_PIPELINE, REGISTRY
    status, out, _ = run(capsys, "passes")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names[:len(DEFAULT_PIPELINE)] == list(DEFAULT_PIPELINE)
    assert names == [*DEFAULT_PIPELINE, *MAPPING_PIPELINE] and set(names) == set(REGISTRY)
    assert "check-target           check every learning rule against the target's learning " \
           "engine (after check-locality)" in out


def test_dump_ir_after_a_pass_prints_the_stable_dump(capsys):
    status, out, _ = run(capsys, "check", EXAMPLE, "--dump-ir-after", "check-locality", "-q")
    assert status == 0
    assert out.startswith("network randman_eprop: dt = 0.001 s")
    assert "projection hidden->hidden: hidden -> hidden, dense, 16384 synapses" in out
    status, _, err = run(capsys, "check", EXAMPLE, "--dump-ir-after", "nope")
    assert status == 2 and "unknown pass 'nope'" in err


def test_locality_report_in_json(capsys):
    status, out, _ = run(capsys, "check", EXAMPLE, "--format", "json", "--report", "locality")
    rows = json.loads(out)["summary"]["locality"]
    assert status == 0
    assert [(r["projection"], r["rule"], r["class"], r["scaling"]) for r in rows] == [
        ("units->hidden", "eprop", "b", "O(N)"), ("hidden->hidden", "eprop", "b", "O(N)"),
        ("hidden->out", "delta", "b", "O(N)")]


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path):
    """`snnc check ... | head -c 1`: the pipe closes early; snnc stops quietly. (The summary
    of 2,000 populations is larger than a pipe's buffer, so the write really fails.)"""
    source = tmp_path / "big.snn"
    source.write_text("network big {\n  dt = 1 ms\n}\n" + "".join(
        f"population p{k}: LIF[2]\n" for k in range(2000)))
    process = subprocess.Popen([sys.executable, "-m", "snnc", "check", str(source), "--format",
                                "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(1)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait()
    assert "internal error" not in stderr and "Traceback" not in stderr
