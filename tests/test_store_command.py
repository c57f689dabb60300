"""``kubemu store`` as a user runs it: the replicated store alone, in the foreground, answering curl."""

from __future__ import annotations

import base64
import json
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from consensus.ports import free_loopback_ports as free_ports


def start(*args: str, cwd: pathlib.Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cluster", "store", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(pathlib.Path(__file__).parent.parent), "PATH": "/usr/bin:/bin"},
    )


def wait_for(url: str, *curl_args: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = subprocess.run(["curl", "-sf", *curl_args, f"{url}/health"], capture_output=True, text=True)
        if done.returncode == 0 and '"true"' in done.stdout:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy")


def curl(url: str, path: str, body: dict[str, str], *extra: str) -> dict[str, object]:
    done = subprocess.run(
        ["curl", "-s", *extra, f"{url}{path}", "-X", "POST", "-d", json.dumps(body)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_three_insecure_members_answer_curl_and_stop_cleanly_on_sigterm(tmp_path: pathlib.Path) -> None:
    client, peer = free_ports(2)
    process = start(
        "--members",
        "3",
        "--client-port",
        str(client),
        "--peer-port",
        str(peer + 20),
        "--insecure",
        cwd=tmp_path,
    )
    try:
        wait_for(f"http://127.0.0.1:{client}")
        put = curl(f"http://127.0.0.1:{client}", "/v3/kv/put", {"key": "Zm9v", "value": "YmFy"})
        assert put["header"]["revision"] == "2"  # type: ignore[index]
        wait_for(f"http://127.0.0.1:{client + 2}")
        got = curl(f"http://127.0.0.1:{client + 2}", "/v3/kv/range", {"key": "Zm9v"})
        assert got["kvs"][0]["value"] == "YmFy"  # type: ignore[index]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"store-2  client http://127.0.0.1:{client + 2}" in out
    assert "kubemu store: stopping" in out


def test_the_default_is_https_with_client_certificates(tmp_path: pathlib.Path) -> None:
    client, peer = free_ports(2)
    process = start("--members", "1", "--client-port", str(client), "--peer-port", str(peer), cwd=tmp_path)
    pki = tmp_path / ".kubemu" / "pki"
    url = f"https://127.0.0.1:{client}"
    certs = (
        "--cacert",
        str(pki / "ca.crt"),
        "--cert",
        str(pki / "etcd/client.crt"),
        "--key",
        str(pki / "etcd/client.key"),
    )
    try:
        wait_for(url, *certs)
        assert curl(url, "/v3/kv/put", {"key": "YQ==", "value": "Yg=="}, *certs)["header"]
        without = subprocess.run(
            ["curl", "-s", "--cacert", str(pki / "ca.crt"), f"{url}/health"], capture_output=True
        )
        assert without.returncode != 0  # no client certificate, no answer
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--members", "2"], "--members must be 1, 3, 5 or 7, not 2"),
        (["--snapshot-count", "1"], "--snapshot-count must be at least 2, not 1"),
    ],
    ids=["even-members", "snapshot-count"],
)
def test_bad_arguments_are_refused_clearly(tmp_path: pathlib.Path, args: list[str], message: str) -> None:
    process = start(*args, "--insecure", cwd=tmp_path)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2 and message in err


def test_a_port_in_use_is_named(tmp_path: pathlib.Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [peer] = free_ports(1)
        process = start(
            "--members", "1", "--client-port", str(port), "--peer-port", str(peer), "--insecure", cwd=tmp_path
        )
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"port(s) {port} on 127.0.0.1 already in use" in err


def test_a_store_restarted_on_its_data_dir_starts_from_its_snapshots(tmp_path: pathlib.Path) -> None:
    client, peer = free_ports(2)
    args = ["--members", "3", "--client-port", str(client), "--peer-port", str(peer + 20), "--insecure"]
    args += ["--data-dir", str(tmp_path / "data"), "--snapshot-count", "5"]
    url = f"http://127.0.0.1:{client}"
    process = start(*args, cwd=tmp_path)
    try:
        wait_for(url)
        for i in range(30):  # one at a time: one log entry each
            key = base64.b64encode(b"k%d" % i).decode()
            curl(url, "/v3/kv/put", {"key": key, "value": base64.b64encode(b"v%d" % i).decode()})
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    snapshots = sorted(p.parent.name for p in (tmp_path / "data").glob("*/raft.snapshot"))
    assert snapshots == ["store-0", "store-1", "store-2"]

    process = start(*args, cwd=tmp_path)
    try:
        wait_for(url)
        got = curl(
            url, "/v3/kv/range", {"key": base64.b64encode(b"k").decode(), "range_end": "bA=="}
        )  # k to l
        assert got["count"] == "30"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
