"""Benchmark: snnc's fixed costs (issue 18), whole processes and the front end, with peers run
in the same process and time window.

Prints one JSON object:

* ``check``: ``snnc check examples/cuba.snn`` as a whole process, wall seconds (min, median of
  ``--repeat``) with warm caches (the parser tables, the standard library, Python's bytecode);
  beside it the floor of any Python program here, ``python -c pass``, and
  ``python -c "import numpy"`` (the floor of the check while it imported numpy; it imports
  none since issue 18: ``tests/test_fixed_costs.py``), and the goal (0.25 s);
* ``run``: ``snnc run examples/cuba.snn --steps 1`` as a whole process, warm (the network's
  simulation found by its content digest: no code generation) and ``regenerated`` (the index
  removed before each run: generated and checked against the entry every time, as before the
  content-addressed index; numba's kernels stay cached in both), with their ratio;
* ``parse``: lines per CPU second on a generated spec (:mod:`parse_speed`) for snnc's parse (text
  to AST), snnc's parse + check (:func:`snnc.check_text`), and the peer: Lark itself with
  snnc's grammar, options and post-lexer building its parse tree (best of ``--repeat``),
  with the ratios to Lark and the goal (12,000 lines/s for parse + check).

Children run with Python's bytecode cached in a temporary ``PYTHONPYCACHEPREFIX`` (an
environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module in every
process) and with temporary cache folders, warmed up first. Not collected by pytest::

    python tests/bench/fixed_costs.py [--repeat R] [--lines N]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CUBA = os.path.join(ROOT, "examples", "cuba.snn")
sys.path.insert(0, HERE)

import parse_speed  # noqa: E402 - the spec generator beside this file

GOALS = {"check_seconds": 0.25, "parse_and_check_lines_per_second": 12_000}


def child_env(folder: str) -> dict:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(folder, "pycache"),
               XDG_CACHE_HOME=os.path.join(folder, "cache"),
               SNNC_CACHE_DIR=os.path.join(folder, "simulations"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(command: list[str], env: dict, repeat: int, before=None) -> dict:
    """min and median wall seconds (and CPU seconds, user + system: the steadier figure on a
    shared machine) of ``repeat`` runs of ``command`` (``before()`` ahead of each, untimed);
    the command must succeed."""
    times, cpu = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), children_cpu()
        result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        cpu.append(children_cpu() - start_cpu)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return {"min": round(min(times), 3), "median": round(statistics.median(times), 3),
            "cpu_min": round(min(cpu), 3), "cpu_median": round(statistics.median(cpu), 3),
            "runs": len(times)}


def processes(repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="snnc-fixed-costs-") as folder:
        env = child_env(folder)
        python = [sys.executable]
        check = [*python, "-m", "snnc", "check", CUBA]
        run = [*python, "-m", "snnc", "run", CUBA, "--steps", "1"]
        for command in (check, run, run, [*python, "-c", "import numpy"]):  # warm every cache
            wall(command, env, 1)

        def forget_networks() -> None:
            for index in glob.glob(os.path.join(env["SNNC_CACHE_DIR"], "net-*")):
                os.unlink(index)

        # interleaved so that both see the same load on a shared machine
        checks, floors, numpys, warm, regenerated = [], [], [], [], []
        for _ in range(repeat):
            checks.append(wall(check, env, 1))
            floors.append(wall([*python, "-c", "pass"], env, 1))
            numpys.append(wall([*python, "-c", "import numpy"], env, 1))
            warm.append(wall(run, env, 1))
            regenerated.append(wall(run, env, 1, before=forget_networks))
            wall(run, env, 1)  # records the network again (untimed)

    def summary(results: list[dict]) -> dict:
        times, cpu = [r["min"] for r in results], [r["cpu_min"] for r in results]
        return {"min": round(min(times), 3), "median": round(statistics.median(times), 3),
                "cpu_min": round(min(cpu), 3), "cpu_median": round(statistics.median(cpu), 3),
                "runs": len(times)}

    check_s, warm_s, regen_s = summary(checks), summary(warm), summary(regenerated)
    numpy_s = summary(numpys)
    return {
        "check": {"command": "snnc check examples/cuba.snn", "seconds": check_s,
                  "python_c_pass": summary(floors), "python_import_numpy": numpy_s,
                  "over_import_numpy_cpu_median": round(check_s["cpu_median"]
                                                        / numpy_s["cpu_median"], 2),
                  "goal_seconds": GOALS["check_seconds"],
                  "within_goal": check_s["median"] < GOALS["check_seconds"]},
        "run": {"command": "snnc run examples/cuba.snn --steps 1", "warm": warm_s,
                "regenerated": regen_s,
                "regenerated_over_warm_median": round(regen_s["median"] / warm_s["median"], 2),
                "regenerated_over_warm_cpu_median": round(regen_s["cpu_median"]
                                                          / warm_s["cpu_median"], 2)},
    }


def front_end(lines: int, repeat: int) -> dict:
    import snnc
    from snnc.frontend.grammar_cache import cached_lark
    from snnc.frontend.parser import LARK_OPTIONS, NewlinePostLexer, grammar_text, parse_text

    text = parse_speed.spec(lines)
    count = text.count("\n")
    snnc.check_text(parse_speed.HEADER, snnc.Diagnostics(), file="warm-up.snn")
    lark = cached_lark(grammar_text(), postlex=NewlinePostLexer(), **LARK_OPTIONS)

    def best(function) -> float:
        """The least CPU seconds of this process over ``repeat`` calls (steadier than wall
        time when other processes share the cores)."""
        seconds = []
        for _ in range(repeat):
            start = time.process_time()
            function()
            seconds.append(time.process_time() - start)
        return min(seconds)

    def snnc_parse():
        diag = snnc.Diagnostics()
        assert parse_text(text, "bench.snn", diag) is not None and not diag.has_errors

    def snnc_check():
        diag = snnc.Diagnostics()
        assert snnc.check_text(text, diag, file="bench.snn") is not None, diag.sorted()[:3]

    # interleaved: Lark, snnc's parse, snnc's parse + check, repeated
    lark_s = best(lambda: lark.parse(text))
    parse_s = best(snnc_parse)
    check_s = best(snnc_check)
    rate = {name: round(count / seconds) for name, seconds in
            (("lark_parse_tree", lark_s), ("snnc_parse", parse_s), ("snnc_parse_and_check",
                                                                    check_s))}
    return {
        "lines": count,
        "lines_per_second": rate,
        "cpu_seconds": {"lark_parse_tree": round(lark_s, 3), "snnc_parse": round(parse_s, 3),
                    "snnc_parse_and_check": round(check_s, 3)},
        "snnc_parse_over_lark": round(rate["snnc_parse"] / rate["lark_parse_tree"], 2),
        "snnc_parse_and_check_over_lark": round(rate["snnc_parse_and_check"]
                                                / rate["lark_parse_tree"], 2),
        "goal_parse_and_check_lines_per_second": GOALS["parse_and_check_lines_per_second"],
        "within_goal": rate["snnc_parse_and_check"] >= GOALS["parse_and_check_lines_per_second"],
    }


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--repeat", type=int, default=7)
    options.add_argument("--lines", type=int, default=100_000)
    args = options.parse_args(argv)
    if args.repeat < 1 or args.lines < 100:
        options.error("--repeat must be at least 1 and --lines at least 100")
    result = {"benchmark": "fixed_costs", **processes(args.repeat),
              "parse": front_end(args.lines, max(1, min(args.repeat, 3))),
              "repeat": args.repeat, "python": platform.python_version(),
              "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
