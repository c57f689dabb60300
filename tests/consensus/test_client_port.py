"""The client port as etcd's users drive it: the curl examples of etcd's own documentation, unchanged but for
the address, and an aiohttp client for what curl cannot easily show (bad input, streams, shutdown)."""

from __future__ import annotations

import asyncio
import base64
import json
import shlex
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pysyncobj import FAIL_REASON

from actors.runtime.local import LocalSystem
from actors.runtime.system import SystemConfig
from consensus import etcd_json, pki
from consensus.client_port import ClientPort, Refusal, refusal
from consensus.member import MemberInfo, RequestTimedOut, StoreMember
from consensus.mvcc import errors
from consensus.ports import free_loopback_ports as free_ports
from consensus.raft import Diverged, ProposalFailed, RaftConfig

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


async def spawn_store(
    system: LocalSystem, size: int, data_root: str, request_timeout: float = 5.0
) -> list[MemberInfo]:
    members = [
        MemberInfo(name=f"store-{i}", id=0x1000 + i, peer_url=f"127.0.0.1:{p}")
        for i, p in enumerate(free_ports(size))
    ]
    for member in members:
        raft = RaftConfig(peer_secret="secret", data_dir=f"{data_root}/{member.name}")
        kwargs = {"members": members, "raft": raft, "request_timeout": request_timeout}
        await system.spawn(member.name, StoreMember, kwargs=kwargs)
    return members


async def wait_for_leader(ports: list[ClientPort], within: float = 5.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        leaders = {(await p.member.status()).get("leader") for p in ports}
        if len(leaders) == 1 and None not in leaders:
            return str(leaders.pop())
        await asyncio.sleep(0.02)
    raise AssertionError("no leader")


async def start_ports(system: LocalSystem, members: list[MemberInfo], **kwargs: Any) -> list[ClientPort]:
    ports = []
    for member in members:
        instance = system.instance(member.name)
        assert isinstance(instance, StoreMember)
        port = ClientPort(instance, port=0, **kwargs)
        await port.start()
        ports.append(port)
    await wait_for_leader(ports)
    return ports


@pytest.fixture
async def port(tmp_path: Any) -> AsyncIterator[ClientPort]:
    system = LocalSystem(SystemConfig(seed=5, call_timeout=300.0))
    async with system:
        members = await spawn_store(system, 1, str(tmp_path))
        (one,) = await start_ports(system, members)
        yield one
        await one.stop()


async def curl(port: ClientPort, command: str, *extra: str) -> tuple[int, str]:
    """Run a curl command line as the docs write it (through bash), aimed at ``port``, not localhost:2379."""
    line = " ".join([aimed(port, command), "-sS -w '\\n%{http_code}'", *map(shlex.quote, extra)])
    process = await asyncio.create_subprocess_exec("bash", "-c", line, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    body, _, status = out.decode().rpartition("\n")
    return int(status), body


def aimed(port: ClientPort, command: str) -> str:
    return command.replace("http://localhost:2379", port.url)


async def curl_json(port: ClientPort, command: str, *extra: str) -> dict[str, Any]:
    status, body = await curl(port, command, *extra)
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)
    return answer


async def post(port: ClientPort, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(port.url + path, data=data) as response:
        return response.status, json.loads(await response.read())


# --- etcd's api_grpc_gateway.md, "Put and get keys" --------------------------------------------------


async def test_the_docs_put_and_range_examples_answer_as_etcd_does(port: ClientPort) -> None:
    put = await curl_json(
        port, """curl -L http://localhost:2379/v3/kv/put -X POST -d '{"key": "Zm9v", "value": "YmFy"}'"""
    )
    header = put["header"]
    assert put == {"header": header}
    assert header["revision"] == "2" and header["raft_term"] != "0"
    assert header["member_id"] == str(0x1000) and header["cluster_id"].isdigit()

    got = await curl_json(port, """curl -L http://localhost:2379/v3/kv/range -X POST -d '{"key": "Zm9v"}'""")
    kv = {"key": "Zm9v", "create_revision": "2", "mod_revision": "2", "version": "1", "value": "YmFy"}
    assert got == {"header": header, "kvs": [kv], "count": "1"}

    prefix = await curl_json(
        port,
        """curl -L http://localhost:2379/v3/kv/range -X POST -d '{"key": "Zm9v", "range_end": "Zm9w"}'""",
    )
    assert prefix == got

    missing = await curl_json(
        port, """curl -L http://localhost:2379/v3/kv/range -X POST -d '{"key": "YmF6"}'"""
    )
    assert missing == {"header": header}  # no "kvs", no "count": proto3 leaves zero values out


async def test_delete_range_reports_what_it_deleted_with_prev_kvs(port: ClientPort) -> None:
    for key in ("a1", "a2", "b"):
        await post(port, "/v3/kv/put", {"key": b64(key), "value": b64("v")})
    status, deleted = await post(
        port, "/v3/kv/deleterange", {"key": b64("a"), "range_end": b64("b"), "prev_kv": True}
    )
    assert status == 200 and deleted["deleted"] == "2" and deleted["header"]["revision"] == "5"
    assert [kv["key"] for kv in deleted["prev_kvs"]] == [b64("a1"), b64("a2")]
    _, left = await post(port, "/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"), "keys_only": True})
    assert left["kvs"] == [{"key": b64("b"), "create_revision": "4", "mod_revision": "4", "version": "1"}]


# --- "Watch keys" ------------------------------------------------------------------------------------


async def test_the_docs_watch_example_streams_created_then_the_put(port: ClientPort) -> None:
    command = """curl -N http://localhost:2379/v3/watch -X POST -d '{"create_request": {"key":"Zm9v"} }'"""
    watcher = await asyncio.create_subprocess_exec(
        "bash", "-c", "exec " + aimed(port, command), stdout=asyncio.subprocess.PIPE
    )
    assert watcher.stdout is not None
    try:
        created = json.loads(await asyncio.wait_for(watcher.stdout.readline(), 5))
        assert created["result"]["created"] is True and "watch_id" not in created["result"]  # watch 0
        assert created["result"]["header"]["revision"] == "1"
        await curl(
            port, """curl -L http://localhost:2379/v3/kv/put -X POST -d '{"key": "Zm9v", "value": "YmFy"}'"""
        )
        event = json.loads(await asyncio.wait_for(watcher.stdout.readline(), 5))
        kv = {"key": "Zm9v", "create_revision": "2", "mod_revision": "2", "version": "1", "value": "YmFy"}
        assert event == {
            "result": {"header": {**created["result"]["header"], "revision": "2"}, "events": [{"kv": kv}]}
        }
        assert port.stats()["watchers"] == 1
    finally:
        watcher.kill()
        await watcher.wait()
    deadline = time.monotonic() + 5
    while port.stats()["watch_streams"] and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert port.stats()["watch_streams"] == 0 and port.stats()["watchers"] == 0


async def read_lines(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    lines = []
    for _ in range(count):
        line = await asyncio.wait_for(response.content.readline(), 5)
        lines.append(json.loads(line)["result"])
    return lines


async def test_a_watch_body_may_hold_several_requests_with_history_filters_and_prev_kv(
    port: ClientPort,
) -> None:
    await post(port, "/v3/kv/put", {"key": b64("k"), "value": b64("1")})
    await post(port, "/v3/kv/put", {"key": b64("k"), "value": b64("2")})
    body = (
        json.dumps({"create_request": {"key": b64("k"), "start_revision": "2", "prev_kv": True}})
        + json.dumps({"create_request": {"key": b64("k"), "filters": ["NOPUT"]}})
    ).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(port.url + "/v3/watch", data=body) as response,
    ):
        assert response.status == 200 and response.headers["Transfer-Encoding"] == "chunked"
        first_created, history, second_created = await read_lines(response, 3)
        assert first_created["created"] and "watch_id" not in first_created
        assert [e["kv"]["value"] for e in history["events"]] == [b64("1"), b64("2")]
        assert history["events"][1]["prev_kv"]["value"] == b64("1")
        assert second_created == {"header": second_created["header"], "watch_id": "1", "created": True}
        await post(port, "/v3/kv/deleterange", {"key": b64("k")})
        deleted_for_0, deleted_for_1 = await read_lines(response, 2)
        assert {deleted_for_0.get("watch_id"), deleted_for_1.get("watch_id")} == {None, "1"}
        for result in (deleted_for_0, deleted_for_1):
            (event,) = result["events"]
            assert event["type"] == "DELETE" and event["kv"] == {"key": b64("k"), "mod_revision": "4"}


async def test_a_watch_below_the_compaction_point_is_created_then_canceled(port: ClientPort) -> None:
    for value in "abc":
        await post(port, "/v3/kv/put", {"key": b64("k"), "value": b64(value)})
    status, compacted = await post(port, "/v3/kv/compaction", {"revision": 3})
    assert status == 200 and compacted == {"header": compacted["header"]}
    body = json.dumps({"create_request": {"key": b64("k"), "start_revision": 2}}).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(port.url + "/v3/watch", data=body) as response,
    ):
        created, canceled = await read_lines(response, 2)
    assert created["created"] is True
    assert canceled["canceled"] is True and canceled["compact_revision"] == "3"
    status, error = await post(port, "/v3/kv/range", {"key": b64("k"), "revision": 2})
    assert (status, error["code"]) == (400, 11)
    assert error["message"] == "etcdserver: mvcc: required revision has been compacted"


async def test_stopping_the_port_ends_open_watch_streams(tmp_path: Any) -> None:
    system = LocalSystem(SystemConfig(seed=5))
    async with system:
        (one,) = await start_ports(system, await spawn_store(system, 1, str(tmp_path)))
        body = json.dumps({"create_request": {"key": b64("k")}}).encode()
        async with (
            aiohttp.ClientSession() as session,
            session.post(one.url + "/v3/watch", data=body) as response,
        ):
            await read_lines(response, 1)
            await asyncio.wait_for(one.stop(), 5)
            assert await asyncio.wait_for(response.content.read(), 5) == b""
        assert one.stats()["watch_streams"] == 0


# --- "Transactions" ----------------------------------------------------------------------------------


async def test_the_docs_txn_examples_compare_create_and_version(port: ClientPort) -> None:
    await curl(
        port, """curl -L http://localhost:2379/v3/kv/put -X POST -d '{"key": "Zm9v", "value": "YmFy"}'"""
    )
    create = await curl_json(
        port,
        """curl -L http://localhost:2379/v3/kv/txn \\
          -X POST \\
          -d '{"compare":[{"target":"CREATE","key":"Zm9v","createRevision":"2"}],"success":[{"requestPut":{"key":"Zm9v","value":"YmFy"}}]}'""",  # noqa: E501
    )
    assert create["succeeded"] is True and create["header"]["revision"] == "3"
    assert create["responses"] == [{"response_put": {"header": {"revision": "3"}}}]

    for _ in range(2):
        await post(port, "/v3/kv/put", {"key": "Zm9v", "value": "YmF6"})
    version = await curl_json(
        port,
        """curl -L http://localhost:2379/v3/kv/txn \\
          -X POST \\
          -d '{"compare":[{"version":"4","result":"EQUAL","target":"VERSION","key":"Zm9v"}],"success":[{"requestRange":{"key":"Zm9v"}}]}'""",  # noqa: E501
    )
    assert version["succeeded"] is True
    kv = {"key": "Zm9v", "create_revision": "2", "mod_revision": "5", "version": "4", "value": "YmF6"}
    assert version["responses"] == [
        {"response_range": {"header": {"revision": "5"}, "kvs": [kv], "count": "1"}}
    ]

    _, failed = await post(
        port,
        "/v3/kv/txn",
        {
            "compare": [{"target": "MOD", "result": "GREATER", "key": "Zm9v", "mod_revision": "9"}],
            "failure": [{"request_delete_range": {"key": "Zm9v"}}],
        },
    )
    assert "succeeded" not in failed and failed["responses"] == [
        {"response_delete_range": {"header": {"revision": "6"}, "deleted": "1"}}
    ]


# --- leases, cluster, maintenance (the requests of etcd's tests/e2e/v3_curl_*_test.go) ---------------


async def test_lease_grant_keepalive_timetolive_and_revoke_with_curl(port: ClientPort) -> None:
    url = "http://localhost:2379"
    granted = await curl_json(
        port, f"""curl -L {url}/v3/lease/grant -X POST -d '{{"TTL": 30, "ID": 7587}}'"""
    )
    assert granted["ID"] == "7587" and granted["TTL"] == "30"
    await curl_json(
        port, f"""curl {url}/v3/kv/put -X POST -d '{{"key": "Zm9v", "value": "YmFy", "lease": "7587"}}'"""
    )
    kept = await curl_json(port, f"""curl -N {url}/v3/lease/keepalive -X POST -d '{{"ID": 7587}}'""")
    assert kept["result"]["ID"] == "7587" and kept["result"]["TTL"] == "30"
    ttl = await curl_json(
        port, f"""curl {url}/v3/lease/timetolive -X POST -d '{{"ID": 7587, "keys": true}}'"""
    )
    assert ttl["grantedTTL"] == "30" and 0 < int(ttl["TTL"]) <= 30 and ttl["keys"] == ["Zm9v"]
    leases = await curl_json(port, f"""curl {url}/v3/lease/leases -X POST -d '{{}}'""")
    assert leases["leases"] == [{"ID": "7587"}]
    revoked = await curl_json(port, f"""curl {url}/v3/lease/revoke -X POST -d '{{"ID": 7587}}'""")
    assert revoked["header"]["revision"] == "3"  # the attached key went with it
    gone = await curl_json(port, f"""curl {url}/v3/lease/timetolive -X POST -d '{{"ID": 7587}}'""")
    assert gone["TTL"] == "-1"
    unknown = await curl_json(port, f"""curl -N {url}/v3/lease/keepalive -X POST -d '{{"ID": 7587}}'""")
    assert unknown == {"result": {"header": unknown["result"]["header"], "ID": "7587"}}  # TTL 0: gone


async def test_a_keepalive_body_of_several_requests_gets_one_line_each(port: ClientPort) -> None:
    await post(port, "/v3/lease/grant", {"TTL": "10", "ID": "5"})
    body = b'{"ID": "5"}\n{"ID": 5}'
    async with (
        aiohttp.ClientSession() as session,
        session.post(port.url + "/v3/lease/keepalive", data=body) as r,
    ):
        lines = (await r.read()).decode().splitlines()
    assert [json.loads(line)["result"]["TTL"] for line in lines] == ["10", "10"]


async def test_member_list_status_health_version_with_curl(port: ClientPort) -> None:
    members = await curl_json(
        port, """curl -L http://localhost:2379/v3/cluster/member/list -X POST -d '{}'"""
    )
    assert "revision" not in members["header"]
    assert members["members"] == [
        {
            "ID": str(0x1000),
            "name": "store-0",
            "peerURLs": [members["members"][0]["peerURLs"][0]],
            "clientURLs": [port.url],
        }
    ]
    status = await curl_json(port, """curl -L http://localhost:2379/v3/maintenance/status -X POST -d '{}'""")
    assert status["leader"] == str(0x1000) and status["version"] == "3.4.0"
    assert int(status["raftIndex"]) >= int(status["raftAppliedIndex"]) > 0 and "errors" not in status
    assert await curl_json(port, "curl -L http://localhost:2379/health") == {"health": "true", "reason": ""}
    assert await curl_json(port, "curl -L http://localhost:2379/health?serializable=true") == {
        "health": "true",
        "reason": "",
    }
    assert (await curl_json(port, "curl -L http://localhost:2379/version"))["etcdcluster"] == "3.4.0"


async def test_metrics_use_etcd_names_and_count_requests(port: ClientPort) -> None:
    for i in range(3):
        await post(port, "/v3/kv/put", {"key": b64(f"k{i}"), "value": b64("v")})
    await post(port, "/v3/kv/put", {"key": ""})
    status, text = await curl(port, "curl http://localhost:2379/metrics")
    assert status == 200
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples["etcd_server_has_leader"] == "1" and samples["etcd_server_is_leader"] == "1"
    assert samples["etcd_mvcc_put_total"] == "3" and samples["etcd_debugging_mvcc_keys_total"] == "3"
    assert int(samples["etcd_server_proposals_committed_total"]) >= 3
    assert samples["etcd_debugging_mvcc_current_revision"] == "4"
    ok = (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",'
        'grpc_type="unary"}'
    )
    bad = ok.replace('"OK"', '"InvalidArgument"')
    assert samples[ok] == "3" and samples[bad] == "1"
    assert "# TYPE etcd_server_leader_changes_seen_total counter" in text


# --- bad input: etcd's error shape, nothing applied ----------------------------------------------------

BIG = b64(b"x" * (1536 * 1024 + 1))


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "message"),
    [
        pytest.param("/v3/kv/put", b'{"key": "Zm9v", ', 400, 3, "unexpected EOF", id="malformed-json"),
        pytest.param("/v3/kv/put", b"[1]", 400, 3, None, id="not-an-object"),
        pytest.param(
            "/v3/kv/put",
            {"key": "Zm9v!", "value": "YmFy"},
            400,
            3,
            "illegal base64 data at input byte 4",
            id="base64",
        ),
        pytest.param("/v3/kv/put", {"key": "Zm9v", "lease": True}, 400, 3, None, id="wrong-type"),
        pytest.param(
            "/v3/kv/range", {"key": "Zm9v", "sort_order": "UPWARDS"}, 400, 3, None, id="unknown-enum"
        ),
        pytest.param(
            "/v3/kv/put",
            {"key": "Zm9v", "value": BIG},
            400,
            3,
            "etcdserver: request is too large",
            id="value-too-big",
        ),
        pytest.param(
            "/v3/kv/put",
            b'{"key": "Zm9v", "value": "' + b"A" * (3 * 1024 * 1024) + b'"}',
            400,
            3,
            "etcdserver: request is too large",
            id="body-too-big",
        ),
        pytest.param("/v3/kv/put", {"value": "YmFy"}, 400, 3, "etcdserver: key is not provided", id="no-key"),
        pytest.param(
            "/v3/kv/put",
            {"key": "Zm9v", "value": "YmFy", "lease": "99"},
            404,
            5,
            "etcdserver: requested lease not found",
            id="lease-missing",
        ),
        pytest.param(
            "/v3/kv/range",
            {"key": "Zm9w", "range_end": "Zm9v"},
            400,
            3,
            "etcdserver: range end is before key",
            id="range",
        ),
        pytest.param(
            "/v3/kv/compaction",
            {"revision": 10000},
            400,
            11,
            "etcdserver: mvcc: required revision is a future revision",
            id="compact-future",
        ),
        pytest.param(  # etcd's tests/e2e/v3_curl_kv_test.go: "was crashing etcd server"
            "/v3/kv/txn",
            b'{"compare":[{"result":0,"target":1,"key":"Zm9v","TargetUnion":null}],'
            b'"success":[{"Request":{"RequestPut":{"key":"Zm9v","value":"YmFy"}}}]}',
            400,
            3,
            "etcdserver: key not found",
            id="txn-empty-op",
        ),
        pytest.param(
            "/v3/kv/txn",
            {"success": [{"request_put": {"key": "YQ=="}}, {"request_put": {"key": "YQ=="}}]},
            400,
            3,
            "etcdserver: duplicate key given in txn request",
            id="txn-duplicate",
        ),
        pytest.param("/v3/lease/grant", {"TTL": "x"}, 400, 3, None, id="lease-ttl-not-a-number"),
        pytest.param("/v3/watch", b"{", 500, 2, "unexpected EOF", id="watch-malformed"),
        pytest.param("/v3/lease/keepalive", {"ID": "z"}, 500, 2, None, id="keepalive-malformed"),
        pytest.param("/v3/kv/nothing", b"{}", 404, 5, "Not Found", id="unknown-path"),
    ],
)
async def test_bad_input_gets_etcds_error_shape_and_applies_nothing(
    port: ClientPort, path: str, body: Any, status: int, code: int, message: str | None
) -> None:
    before = (await port.member.status())["revision"]
    got_status, error = await post(port, path, body)
    assert (got_status, error["code"]) == (status, code)
    assert error["error"] == error["message"] and set(error) == {"error", "code", "message"}
    if message is not None:
        assert error["message"] == message
    assert (await port.member.status())["revision"] == before


async def test_another_method_on_a_known_path_is_not_implemented(port: ClientPort) -> None:
    status, body = await curl(port, "curl http://localhost:2379/v3/kv/put")
    assert status == 501 and json.loads(body) == {
        "error": "Method Not Allowed",
        "code": 12,
        "message": "Method Not Allowed",
    }


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        pytest.param(RequestTimedOut(), 14, "etcdserver: request timed out", id="timed-out"),
        pytest.param(ProposalFailed(FAIL_REASON.MISSING_LEADER), 14, "etcdserver: no leader", id="no-leader"),
        pytest.param(
            ProposalFailed(FAIL_REASON.LEADER_CHANGED), 14, "etcdserver: leader changed", id="changed"
        ),
        pytest.param(
            ProposalFailed(FAIL_REASON.QUEUE_FULL), 8, "etcdserver: too many requests", id="queue-full"
        ),
        pytest.param(Diverged("store-1 is not running"), 14, "etcdserver: server stopped", id="diverged"),
        pytest.param(
            errors.Compacted(4), 11, "etcdserver: mvcc: required revision has been compacted", id="compacted"
        ),
        pytest.param(etcd_json.BadRequest("unexpected EOF"), 3, "unexpected EOF", id="bad-request"),
        pytest.param(KeyError("boom"), 2, "'boom'", id="a-bug"),
    ],
)
def test_member_failures_map_to_etcds_codes_and_messages(error: Exception, code: int, message: str) -> None:
    assert refusal(error) == Refusal(code=etcd_json.Code(code), message=message)


async def test_pause_holds_requests_and_abort_drops_connections(port: ClientPort) -> None:
    port.pause()
    pending = asyncio.ensure_future(post(port, "/v3/kv/put", {"key": "Zm9v", "value": "YmFy"}))
    await asyncio.sleep(0.3)
    assert not pending.done()
    port.resume()
    assert (await asyncio.wait_for(pending, 5))[0] == 200

    body = json.dumps({"create_request": {"key": "Zm9v"}}).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(port.url + "/v3/watch", data=body) as response,
    ):
        await read_lines(response, 1)
        port.abort()
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(response.content.read(), 5)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(port, "/v3/kv/range", {"key": "Zm9v"})
    await port.stop()  # after abort: waits for the clean-up, closes nothing twice


# --- three members, TLS ------------------------------------------------------------------------------


async def test_three_members_each_serve_the_same_store_and_cluster(tmp_path: Any) -> None:
    system = LocalSystem(SystemConfig(seed=5))
    async with system:
        ports = await start_ports(system, await spawn_store(system, 3, str(tmp_path), request_timeout=1.0))
        try:
            leader = await wait_for_leader(ports)
            follower = next(p for p in ports if p.member.name != leader)
            await post(follower, "/v3/kv/put", {"key": "Zm9v", "value": "YmFy"})
            headers = []
            for each in ports:
                _, got = await post(each, "/v3/kv/range", {"key": "Zm9v"})
                assert got["kvs"][0]["value"] == "YmFy"
                headers.append(got["header"])
            assert (
                len({h["cluster_id"] for h in headers}) == 1 and len({h["member_id"] for h in headers}) == 3
            )
            _, members = await post(ports[2], "/v3/cluster/member/list", {})
            assert [m["name"] for m in members["members"]] == ["store-0", "store-1", "store-2"]
            for each in ports:
                _, status = await post(each, "/v3/maintenance/status", {})
                assert (
                    status["leader"] == str(0x1000 + int(leader[-1])) and status["header"]["revision"] == "2"
                )
                status_code, health = await curl(each, "curl http://localhost:2379/health")
                assert status_code == 200, health

            survivor = ports[0]  # the leader or not
            for each in ports[1:]:
                await system.kill(each.member.name)
            deadline = time.monotonic() + 5
            while True:  # first a range that times out (a leader cut off still leads a while), then no leader
                code, health = await curl(survivor, "curl http://localhost:2379/health")
                if code == 503 and json.loads(health)["reason"] == "RAFT NO LEADER":
                    break
                assert code == 200 or json.loads(health)["reason"].startswith("RANGE ERROR:etcdserver: ")
                assert time.monotonic() < deadline, (
                    f"a member without a quorum still sees a leader: {code} {health}"
                )
                await asyncio.sleep(0.1)
            _, status = await post(survivor, "/v3/maintenance/status", {})
            assert status["errors"] == ["etcdserver: no leader"] and "leader" not in status
            code, refused = await post(survivor, "/v3/kv/put", {"key": "Zm9v", "value": "YmF6"})
            assert (code, refused["code"]) == (503, 14) and refused["message"].startswith("etcdserver: ")
            _, stale = await post(survivor, "/v3/kv/range", {"key": "Zm9v", "serializable": True})
            assert stale["kvs"][0]["value"] == "YmFy"
        finally:
            for each in ports:
                await each.stop()


async def test_https_with_client_certificates_from_the_cluster_pki(tmp_path: Any) -> None:
    paths = pki.write_pki(tmp_path / "pki", members=1)
    context = pki.server_ssl_context(paths)
    system = LocalSystem(SystemConfig(seed=5))
    async with system:
        (one,) = await start_ports(system, await spawn_store(system, 1, str(tmp_path)), ssl_context=context)
        try:
            assert one.url.startswith("https://127.0.0.1:")
            creds = (
                "--cacert",
                str(paths.ca.cert),
                "--cert",
                str(paths.etcd_client.cert),
                "--key",
                str(paths.etcd_client.key),
            )
            put = await curl_json(
                one,
                """curl -L http://localhost:2379/v3/kv/put -X POST -d '{"key": "Zm9v", "value": "YmFy"}'""",
                *creds,
            )
            assert put["header"]["revision"] == "2"
            status, _ = await curl(one, "curl http://localhost:2379/health", "--cacert", str(paths.ca.cert))
            assert status == 0  # refused in the TLS handshake: no client certificate
        finally:
            await one.stop()
