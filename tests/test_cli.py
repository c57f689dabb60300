"""The ``kubemu`` command line as a user meets it."""

from __future__ import annotations

import subprocess
import sys
from xml.etree import ElementTree

import pytest

import cluster


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["bench", "--help"]], ids=" ".join)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cluster.main(argv)
    assert exit_.value.code == 0
    assert "usage: kubemu" in capsys.readouterr().out


def test_an_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cluster.main(["launch"])
    assert exit_.value.code == 2
    assert "invalid choice: 'launch'" in capsys.readouterr().err


def test_the_demo_passes_its_checks_and_prints_a_timeline() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cluster", "demo", "--time-scale", "600", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "node-1 NotReady" in done.stdout
    assert "a linearizable read finds 200 keys" in done.stdout
    assert "lists: 100 from the store, 100 from the watch cache" in done.stdout
    assert "tomcat rolled back to tomcat:10.1 (revision 3)" in done.stdout
    assert "28/28 checks passed" in done.stdout


def test_the_messaging_benchmark_prints_a_table_and_writes_json(tmp_path: object) -> None:
    import json
    import pathlib

    out = pathlib.Path(str(tmp_path)) / "m.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cluster",
            "bench",
            "actor-messaging",
            "--scenarios",
            "local",
            "--seconds",
            "0.2",
            "--concurrency",
            "1",
            "4",
            "--out",
            str(out),
            "--plot",
            str(out.with_suffix(".svg")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "CALLS/S" in done.stdout
    rows = json.loads(out.read_text())["results"]
    assert [r["concurrency"] for r in rows] == [1, 4] and all(r["calls_per_s"] > 0 for r in rows)
    chart = ElementTree.parse(out.with_suffix(".svg"))
    bars = [e for e in chart.iter() if e.tag.endswith("rect")]
    assert len(bars) == 2 and all(float(b.get("width", 0)) > 0 for b in bars)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--nodes", "-1"], "--nodes must be 0 or more, not -1"),
        (["--nodes", "1", "--node-cpu", "lots"], "--node-cpu: 'lots' is not a quantity"),
        (["--nodes", "1", "--node-memory", "16GB"], "--node-memory: '16GB' is not a quantity"),
        (["--nodes", "1", "--node-pods", "0"], "--node-pods must be at least 1, not 0"),
        (["--nodes", "1", "--node-labels", "tier"], "invalid label 'tier': expected key=value"),
        (["--nodes", "1", "--node-labels", "a b=c"], "--node-labels: invalid label 'a b=c': name part must"),
        (["--image-pull-seconds", "-1"], "--image-pull-seconds must be 0 or more, not -1"),
        (["--nodes", "300"], "give a larger --cluster-cidr, e.g. 10.0.0.0/8"),
        (["--scheduler-shards", "0"], "--scheduler-shards must be at least 1, not 0"),
        (["--cluster-cidr", "10.244.0.0/33"], "--cluster-cidr:"),
    ],
)
def test_bad_node_flags_are_refused_before_anything_starts(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.main(["up", "--insecure", *flags]) == 2
    assert message in capsys.readouterr().err
