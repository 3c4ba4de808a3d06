"""`snnc map`: the summary, mapping.json and mapping.png, rates from `snnc run`, and errors."""

import json
import sys

from snnc.cli import main

NET = """network two_layers {
  dt = 1 ms
  seed = 4
}
input x[300]: poisson(rate = 20 Hz)
population a: LIF[300]
population b: LIF[200]
x -> a: one_to_one
a -> b: sparse(p = 0.05)
target loihi
"""


def write(tmp_path, text=NET):
    path = tmp_path / "net.snn"
    path.write_text(text)
    return str(path)


def test_map_prints_a_summary_and_writes_json_and_png(tmp_path, capsys):
    source, out = write(tmp_path), tmp_path / "out"
    assert main(["map", source, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on loihi: 1 of 4,096 cores" in text
    assert "remote packets / step" in text and "distinct input axons" in text
    doc = json.loads((out / "mapping.json").read_text())
    assert doc["slices"] == [
        {"population": "a", "start": 0, "stop": 300, "core": 0, "chip": 0, "core_in_chip": 0,
         "x": 0, "y": 0},
        {"population": "b", "start": 0, "stop": 200, "core": 0, "chip": 0, "core_in_chip": 0,
         "x": 0, "y": 0}]
    # only inputs leave their source: 300 x 20 Hz x 1 ms x 1 core
    assert doc["remote_packets_per_step"] == 6.0
    assert (out / "mapping.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_output_is_byte_identical_across_runs(tmp_path, capsys):
    source = write(tmp_path, NET.replace("target loihi", "target truenorth"))
    assert main(["map", source, "--target", "spinnaker", "--no-kahip", "-o", str(tmp_path / "one")]) == 0
    assert main(["map", source, "--target", "spinnaker", "--no-kahip", "-o", str(tmp_path / "two")]) == 0
    for name in ("mapping.json", "mapping.png"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    doc = json.loads((tmp_path / "one" / "mapping.json").read_text())
    assert doc["target"] == "spinnaker" and doc["cores_used"] == 2  # 256 neurons per core


def test_rates_from_snnc_run_drive_the_mapping(tmp_path, capsys):
    source = write(tmp_path)
    rates = str(tmp_path / "rates.npz")
    assert main(["run", source, "--steps", "50", "--rates", rates]) == 0
    capsys.readouterr()
    assert main(["map", source, "--rates", rates, "-o", str(tmp_path / "m"),
                 "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rates"] == rates and "slices" not in printed
    doc = json.loads((tmp_path / "m" / "mapping.json").read_text())
    assert doc["remote_packets_per_step"] == printed["remote_packets_per_step"]


def test_mapping_onto_the_reference_simulator_is_an_error(tmp_path, capsys):
    source = write(tmp_path)
    assert main(["map", source, "--target", "reference", "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "error[E406]" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_an_unreadable_rates_file_is_an_error(tmp_path, capsys):
    source = write(tmp_path)
    (tmp_path / "bad.npz").write_text("not an archive")
    assert main(["map", source, "--rates", str(tmp_path / "bad.npz"), "-o",
                 str(tmp_path / "m")]) == 1
    assert "error[E609]" in capsys.readouterr().err


def test_without_matplotlib_the_json_is_written_and_the_extra_named(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    source, out = write(tmp_path), tmp_path / "m"
    assert main(["map", source, "-o", str(out)]) == 0
    assert "pip install 'snnc[plot]'" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".snnc-output", "mapping.json"]


def test_a_target_from_a_json_file(tmp_path, capsys):
    source = write(tmp_path)
    chip = tmp_path / "labchip.json"
    chip.write_text(json.dumps({"base": "loihi", "capacity": {"neurons_per_core": 100},
                                "mesh": {"chips_x": 1, "chips_y": 1}}))
    assert main(["map", source, "--target", str(chip), "-o", str(tmp_path / "m")]) == 0
    doc = json.loads((tmp_path / "m" / "mapping.json").read_text())
    # 300 + 200 neurons at 100 per core; one chip of loihi's 128 cores
    assert doc["target"] == "labchip" and doc["cores_used"] == 5
    assert doc["cores_available"] == 128


def test_a_bad_target_file_is_an_error(tmp_path, capsys):
    source = write(tmp_path)
    chip = tmp_path / "labchip.json"
    chip.write_text(json.dumps({"capacity": {"neuron_per_core": 100}}))
    assert main(["map", source, "--target", str(chip), "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "error[E618]" in err and "did you mean 'neurons_per_core'?" in err
    assert main(["map", source, "--target", str(tmp_path / "missing.json")]) == 1
    assert "error[E601]" in capsys.readouterr().err


def test_a_truncated_rates_archive_is_an_error(tmp_path, capsys):
    source = write(tmp_path)
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04 truncated")
    assert main(["map", source, "--rates", str(tmp_path / "cut.npz"), "-o",
                 str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "error[E609]" in err and "--rates" in err and "internal error" not in err
