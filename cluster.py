"""The composition root and the ``kubemu`` command line.

Subcommands (each has ``--help``):

- ``kubemu demo``: the main demonstration (for now the actor runtime's: heartbeating nodes and faults);
- ``kubemu up``: a control plane (store members and the apiserver) in the foreground, with a kubeconfig
  for kubectl, in the style of kind and kwokctl;
- ``kubemu fault``: list the actors of a cluster started by ``kubemu up`` and inject or heal faults in it
  (kill, restart, pause, resume, partition, delay, drop, heal), as its cluster-admin;
- ``kubemu store``: just the replicated store (etcd v3 JSON API on its client ports), in the foreground;
- ``kubemu bench NAME``: runs ``benchmarks/NAME.py`` (``actor-messaging``, ``store``); JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from typing import Any

from actors.runtime.system import SystemConfig, create_system
from chaos import apiserver_demo, cluster_demo, runtime_demo, store_demo

BENCHMARKS = {
    "actor-messaging": "benchmarks.actor_messaging",
    "apiserver": "benchmarks.apiserver",
    "density": "benchmarks.density",
    "reconcile": "benchmarks.reconcile",
    "scheduler": "benchmarks.scheduler",
    "store": "benchmarks.store",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubemu", description="A Kubernetes cluster emulator.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="run the demonstration scenario",
        description="Heartbeating emulated nodes, a lease monitor, and injected faults it must notice.",
    )
    demo.add_argument("--backend", choices=["local", "ray"], default="local", help="actor runtime backend")
    demo.add_argument("--nodes", type=int, default=3, help="emulated nodes (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="cluster seed (default 0)")
    demo.add_argument(
        "--time-scale", type=float, default=60.0, help="cluster seconds per wall second (default 60)"
    )
    demo.add_argument("--ray-address", default=None, help="join this Ray cluster (ray backend)")

    up = commands.add_parser(
        "up",
        help="run a cluster's control plane in the foreground",
        description="Start the store members and the apiserver, write a kubeconfig, and serve until Ctrl-C "
        "or SIGTERM.",
    )
    up.add_argument("--name", default="kubemu", help="cluster name; the context is kubemu-<name>")
    up.add_argument("--nodes", type=int, default=0, help="emulated nodes, node-0 ... (default 0)")
    up.add_argument("--node-cpu", default="4", help="each node's cpu capacity (default 4)")
    up.add_argument("--node-memory", default="16Gi", help="each node's memory capacity (default 16Gi)")
    up.add_argument("--node-pods", type=int, default=110, help="pods each node can run (default 110)")
    up.add_argument(
        "--node-labels", default="", help="labels every node gets, as the kubelet's flag: key=value,..."
    )
    up.add_argument(
        "--scheduler-shards",
        type=int,
        default=1,
        help="split the scheduler's node cache over this many shard actors (spread over Ray hosts)",
    )
    up.add_argument(
        "--cluster-cidr",
        default="10.244.0.0/16",
        help="the pod network; each node gets a /24 of it (default 10.244.0.0/16: 256 nodes)",
    )
    up.add_argument(
        "--bad-images",
        default="",
        help="comma-separated image patterns whose pulls fail (ErrImagePull), e.g. 'nginx:nosuchtag,*:bad'",
    )
    up.add_argument("--image-pull-seconds", type=float, default=0.5, help="each image pull (default 0.5)")
    up.add_argument("--store-members", type=int, default=3, help="store members: 1, 3 or 5 (default 3)")
    up.add_argument("--api-port", type=int, default=6443, help="apiserver port on 127.0.0.1 (default 6443)")
    up.add_argument(
        "--store-client-port", type=int, default=None, help="also serve the etcd API from this port on"
    )
    up.add_argument("--backend", choices=["local", "ray"], default="local", help="actor runtime backend")
    up.add_argument("--ray-address", default=None, help="join this Ray cluster (ray backend)")
    up.add_argument("--time-scale", type=float, default=1.0, help="cluster seconds per wall second")
    up.add_argument("--seed", type=int, default=0, help="cluster seed (default 0)")
    up.add_argument("--insecure", action="store_true", help="plain HTTP without authentication (experiments)")
    up.add_argument("--pki-dir", default=".kubemu/pki", help="certificates (created if missing)")
    up.add_argument("--kubeconfig", default=".kubemu/kubeconfig", help="where to write the kubeconfig")

    fault = commands.add_parser(
        "fault",
        help="inject or heal faults in a running cluster",
        description="Talk to the admin endpoint of a cluster started by kubemu up (cluster-admin only). "
        "ACTION is one of: actors, events, kill NAME, restart NAME, pause NAME, resume NAME, "
        "partition A[,B...] C[,D...], delay A[,...] B[,...] SECONDS, drop A[,...] B[,...] PROBABILITY, "
        "heal [RULE]. NAME may be store-leader (the store member leading now); names may end with *.",
    )
    fault.add_argument("--kubeconfig", default=".kubemu/kubeconfig", help="the cluster's kubeconfig")
    fault.add_argument("--one-way", action="store_true", help="partition: cut only A -> B")
    fault.add_argument("--jitter", type=float, default=0.0, help="delay: jitter in seconds")
    fault.add_argument("action", help="what to do (see above)")
    fault.add_argument("operands", nargs="*", help="its operands")

    store = commands.add_parser(
        "store",
        help="run the replicated store alone",
        description="Run the Raft-replicated store in the foreground: member i serves the etcd v3 JSON API "
        "on client-port + i and talks to its peers on peer-port + i. Stops on Ctrl-C or SIGTERM.",
    )
    store.add_argument("--members", type=int, default=3, help="store members: 1, 3 or 5 (default 3)")
    store.add_argument("--client-port", type=int, default=2379, help="first client port (default 2379)")
    store.add_argument("--peer-port", type=int, default=2380 + 100, help="first peer port (default 2480)")
    store.add_argument(
        "--insecure", action="store_true", help="plain HTTP, unencrypted peers (experiments only)"
    )
    store.add_argument("--pki-dir", default=".kubemu/pki", help="certificates (created if missing)")
    store.add_argument("--data-dir", default=None, help="member data (default: a temporary directory)")
    store.add_argument(
        "--snapshot-count",
        type=int,
        default=10_000,
        help="Raft log entries after which a member snapshots its state and drops the log before it "
        "(default 10000; an entry carries every write proposed in one loop turn)",
    )
    store.add_argument(
        "--in-process",
        action="store_true",
        help="run every member in this process (default: one process each)",
    )
    store.add_argument("--member", type=int, default=None, help=argparse.SUPPRESS)  # a child runs one member

    bench = commands.add_parser(
        "bench",
        help="run a benchmark",
        description="Run a benchmark script from benchmarks/; arguments after the name go to the script.",
    )
    bench.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark (see its --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        return asyncio.run(_demo(args))
    if args.command == "store":
        return asyncio.run(_store(args))
    if args.command == "up":
        return asyncio.run(_up(args))
    if args.command == "fault":
        return _fault(args)
    if args.command == "bench":
        return subprocess.call([sys.executable, "-m", BENCHMARKS[args.name], *args.args])
    raise AssertionError(args.command)


async def _demo(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        print("kubemu demo: --nodes must be at least 1", file=sys.stderr)
        return 2
    config = SystemConfig(seed=args.seed, time_scale=args.time_scale, call_timeout=30.0)
    options = {"hosts": 2, "address": args.ray_address} if args.backend == "ray" else {}
    system = create_system(args.backend, config, **options)
    print(
        f"kubemu demo: backend {args.backend}, {args.nodes} nodes, "
        f"seed {args.seed}, time scale {args.time_scale:g}"
    )
    async with system:
        checks = await runtime_demo.run(system, nodes=args.nodes)
        print("\nthe replicated store:")
        checks += await store_demo.run(system)
        print("")
        for check in checks[-3:]:
            print(f"{check.what:<40} {'ok' if check.passed else 'FAILED'}")
        print("\nthe apiserver:")
        checks += await apiserver_demo.run(system)
        print("")
        for check in checks[-3:]:
            print(f"{check.what:<40} {'ok' if check.passed else 'FAILED'}")
    print("\nthe cluster (examples/seed):")
    # The cluster part runs at no more than 30x: a store election must not outlast the 15 s leases.
    cluster_config = SystemConfig(seed=args.seed, time_scale=min(args.time_scale, 30.0), call_timeout=30.0)
    async with create_system(args.backend, cluster_config, **options) as cluster_system:
        cluster_checks = await cluster_demo.run(cluster_system)
    checks += cluster_checks
    print("")
    for check in cluster_checks:
        print(f"{check.what:<52} {'ok' if check.passed else 'FAILED'}")
    failed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed")
    return 1 if failed else 0


async def _up(args: argparse.Namespace) -> int:
    from actors import control_plane
    from chaos.fault_desk import FaultDesk
    from consensus import pki
    from network.cidr import CIDRRangeExhausted, RangeAllocator

    if args.scheduler_shards < 1:
        print(
            f"kubemu up: --scheduler-shards must be at least 1, not {args.scheduler_shards}", file=sys.stderr
        )
        return 2
    if args.store_members not in (1, 3, 5):
        print(f"kubemu up: --store-members must be 1, 3 or 5, not {args.store_members}", file=sys.stderr)
        return 2
    try:
        cidrs = RangeAllocator(args.cluster_cidr)
    except ValueError as error:
        print(f"kubemu up: --cluster-cidr: {error}", file=sys.stderr)
        return 2
    try:
        nodes = _node_configs(args, cidrs)
    except CIDRRangeExhausted as error:
        print(f"kubemu up: {error} (give a larger --cluster-cidr, e.g. 10.0.0.0/8)", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"kubemu up: {error}", file=sys.stderr)
        return 2
    if not _port_free(args.api_port):
        print(f"kubemu up: port {args.api_port} on 127.0.0.1 is already in use", file=sys.stderr)
        return 1
    paths = None
    if not args.insecure:
        try:
            paths = pki.write_pki(args.pki_dir, members=args.store_members)
        except pki.PkiError as error:
            print(f"kubemu up: {error}", file=sys.stderr)
            return 1
    config = SystemConfig(seed=args.seed, time_scale=args.time_scale, call_timeout=60.0)
    options = {"hosts": 2, "address": args.ray_address} if args.backend == "ray" else {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f'Creating cluster "{args.name}" ({args.backend} backend, {args.store_members} store members) ...')
    with tempfile.TemporaryDirectory(prefix="kubemu-up-") as data_dir:
        system = create_system(args.backend, config, **options)
        async with system:
            plane = await control_plane.start(
                system,
                data_dir=data_dir,
                store_members=args.store_members,
                api_port=args.api_port,
                nodes=nodes,
                cidrs=cidrs,
                peer_secret=pki.peer_secret(args.pki_dir) if paths is not None else None,
                store_client_port=args.store_client_port,
                pki_dir=args.pki_dir if paths is not None else None,
                apiserver=_apiserver_security(paths) if paths is not None else None,
                image_pull_seconds=args.image_pull_seconds,
                scheduler_shards=args.scheduler_shards,
                bad_images=tuple(p.strip() for p in args.bad_images.split(",") if p.strip()),
            )
            scheme = "http" if paths is None else "https"
            server = f"{scheme}://127.0.0.1:{args.api_port}"
            _write_kubeconfig(args.kubeconfig, args.name, server, paths)
            print(f" ✓ apiserver: {server}")
            desk = FaultDesk(system, store_members=plane.members)
            desk_task = asyncio.ensure_future(desk.run())
            print(f'Set kubectl context to "kubemu-{args.name}" in {args.kubeconfig}')
            print("You can now use your cluster with:\n")
            print(f"kubectl --kubeconfig {args.kubeconfig} get {'nodes' if nodes else 'namespaces'}\n")
            print("Stop with Ctrl-C.", flush=True)
            await stop.wait()
            desk_task.cancel()
            await plane.stop()
            print(f'Deleting cluster "{args.name}" ...', flush=True)
    return 0


def _node_configs(args: argparse.Namespace, cidrs: Any) -> list[Any]:
    """The emulated nodes ``--nodes`` and the ``--node-*`` flags ask for; ValueError says what is wrong."""
    from actors.kubelet.node import NodeConfig
    from actors.kubelet.node_manager import NODE_NETWORK
    from kube import quantity, validation

    if args.nodes < 0:
        raise ValueError(f"--nodes must be 0 or more, not {args.nodes}")
    for flag, value in (("--node-cpu", args.node_cpu), ("--node-memory", args.node_memory)):
        try:
            quantity.parse(value)
        except ValueError:
            raise ValueError(f"{flag}: {value!r} is not a quantity (such as 4, 500m, 16Gi)") from None
    if args.image_pull_seconds < 0:
        raise ValueError(f"--image-pull-seconds must be 0 or more, not {args.image_pull_seconds:g}")
    if args.node_pods < 1:
        raise ValueError(f"--node-pods must be at least 1, not {args.node_pods}")
    labels: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in args.node_labels.split(","))):
        key, sep, value = item.partition("=")
        problems = validation.is_qualified_name(key) + validation.is_valid_label_value(value)
        if not sep or problems:
            detail = "; ".join(problems) or "expected key=value"
            raise ValueError(f"--node-labels: invalid label {item!r}: {detail}")
        labels.append((key, value))
    # Each node's podCIDR, as kube-controller-manager's node IPAM would give it (that controller comes
    # with the controller-manager; until then the composition root hands the /24s out).
    return [
        NodeConfig(
            name=f"node-{i}",
            cpu=args.node_cpu,
            memory=args.node_memory,
            pods=args.node_pods,
            labels=tuple(labels),
            internal_ip=str(NODE_NETWORK[i + 2]),
            pod_cidr=cidrs.allocate(f"node-{i}"),
        )
        for i in range(args.nodes)
    ]


def _fault(args: argparse.Namespace) -> int:
    from chaos.fault_desk import client_request

    action, operands = args.action, args.operands
    body: dict[str, Any] | None = None
    path = "/kubemu/v1/faults"
    try:
        if action == "actors":
            path, method = "/kubemu/v1/actors", "GET"
        elif action == "events":
            method = "GET"
        elif action in ("kill", "restart", "pause", "resume"):
            (name,) = operands
            method, body = "POST", {"kind": action, "targets": [name]}
        elif action in ("partition", "delay", "drop"):
            sources, destinations = operands[0].split(","), operands[1].split(",")
            params: dict[str, Any] = {"sources": sources, "destinations": destinations}
            if action == "partition":
                (_, _) = operands
                params["one_way"] = args.one_way
            elif action == "delay":
                params.update(delay=float(operands[2]), jitter=args.jitter)
            else:
                params["probability"] = float(operands[2])
            method, body = "POST", {"kind": action, "params": params}
        elif action == "heal":
            method, body = "POST", {"kind": "heal", "params": {"rule": int(operands[0])} if operands else {}}
        else:
            print(f"kubemu fault: unknown action {action!r} (see kubemu fault --help)", file=sys.stderr)
            return 2
    except (ValueError, IndexError):
        print(f"kubemu fault: wrong operands for {action} (see kubemu fault --help)", file=sys.stderr)
        return 2
    try:
        code, answer = client_request(args.kubeconfig, method, path, body)
    except (OSError, KeyError, StopIteration) as error:
        print(f"kubemu fault: cannot reach the cluster of {args.kubeconfig}: {error}", file=sys.stderr)
        return 1
    if code >= 300:
        print(
            f"kubemu fault: {answer.get('message', answer) if isinstance(answer, dict) else answer}",
            file=sys.stderr,
        )
        return 1
    if action == "actors":
        print(f"{'NAME':<24} {'HOST':<10} {'STATE':<10} RESTARTS")
        for a in answer:
            print(f"{a['name']:<24} {a['host']:<10} {a['state']:<10} {a['restarts']}")
    elif action == "events":
        from actors.runtime.faults import FaultEvent

        for event in answer:
            print(FaultEvent.from_dict(event))
    else:
        from actors.runtime.faults import FaultEvent

        print(FaultEvent.from_dict(answer))
    return 0


def _apiserver_security(paths: Any) -> dict[str, Any]:
    """TLS with the cluster CA, client certificates and tokens authenticated, RBAC authorising."""
    return {"pki_dir": str(paths.directory)}


def _write_kubeconfig(path: str, name: str, server: str, paths: Any) -> None:
    """A kubeconfig with one cluster, user and context (``kubemu-<name>``), as kind writes it."""
    import base64

    from kube import codec

    context = f"kubemu-{name}"
    cluster: dict[str, Any] = {"server": server}
    user: dict[str, Any] = {}
    if paths is not None:
        cluster["certificate-authority-data"] = base64.b64encode(paths.ca.cert.read_bytes()).decode()
        user["client-certificate-data"] = base64.b64encode(paths.admin.cert.read_bytes()).decode()
        user["client-key-data"] = base64.b64encode(paths.admin.key.read_bytes()).decode()
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path + ".tmp", "w") as handle:
        handle.write(codec.dump_yaml(document))
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


async def _store(args: argparse.Namespace) -> int:
    from consensus import pki
    from consensus.member import MemberInfo, StoreMember
    from consensus.raft import RaftConfig

    if args.members not in (1, 3, 5, 7):
        print(f"kubemu store: --members must be 1, 3, 5 or 7, not {args.members}", file=sys.stderr)
        return 2
    if args.snapshot_count < 2:
        count = args.snapshot_count
        print(f"kubemu store: --snapshot-count must be at least 2, not {count}", file=sys.stderr)
        return 2
    clients = [args.client_port + i for i in range(args.members)]
    peers = [args.peer_port + i for i in range(args.members)]
    mine = range(args.members) if args.member is None else [args.member]
    busy = [port for i in mine for port in (clients[i], peers[i]) if not _port_free(port)]
    if busy:
        print(
            f"kubemu store: port(s) {', '.join(map(str, busy))} on 127.0.0.1 already in use", file=sys.stderr
        )
        return 1
    pki_dir = None if args.insecure else args.pki_dir
    secret = None
    if pki_dir is not None:
        try:
            if args.member is None:
                pki.write_pki(pki_dir, members=args.members)
        except pki.PkiError as error:
            print(f"kubemu store: {error}", file=sys.stderr)
            return 1
        secret = pki.peer_secret(pki_dir)
    scheme = "http" if pki_dir is None else "https"
    owned = None if args.data_dir else tempfile.TemporaryDirectory(prefix="kubemu-store-")
    data_dir = args.data_dir or owned.name  # type: ignore[union-attr]
    members = [
        MemberInfo(
            name=f"store-{i}",
            id=i + 1,
            peer_url=f"127.0.0.1:{peers[i]}",
            client_url=f"{scheme}://127.0.0.1:{clients[i]}",
        )
        for i in range(args.members)
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.member is None and not args.in_process and args.members > 1:
            return await _store_processes(args, members, pki_dir, data_dir, stop)
        system = create_system("local", SystemConfig(call_timeout=60.0))
        async with system:
            for i in mine:
                member = members[i]
                raft = RaftConfig(
                    peer_secret=secret,
                    data_dir=os.path.join(data_dir, member.name),
                    snapshot_count=args.snapshot_count,
                )
                kwargs = {"members": members, "raft": raft, "client_port": clients[i], "pki_dir": pki_dir}
                await system.spawn(member.name, StoreMember, kwargs=kwargs)
            if args.member is None:
                _print_store(members, pki_dir, data_dir)
            await stop.wait()
            if args.member is None:
                print("kubemu store: stopping", flush=True)
    finally:
        if owned is not None:
            owned.cleanup()
    return 0


async def _store_processes(
    args: argparse.Namespace, members: list[Any], pki_dir: str | None, data_dir: str, stop: asyncio.Event
) -> int:
    """One OS process per member, as etcd runs: each gets its own interpreter (and core), not a shared GIL."""
    argv = [sys.executable, "-m", "cluster", "store", f"--members={args.members}", f"--data-dir={data_dir}"]
    argv += [f"--client-port={args.client_port}", f"--peer-port={args.peer_port}"]
    argv += [f"--snapshot-count={args.snapshot_count}"]
    argv += ["--insecure"] if pki_dir is None else [f"--pki-dir={pki_dir}"]
    children = [await asyncio.create_subprocess_exec(*argv, f"--member={i}") for i in range(len(members))]
    try:
        for member, child in zip(members, children, strict=True):
            port = int(member.client_url.rpartition(":")[2])
            while not await _listening(port):
                if child.returncode is not None or stop.is_set():
                    print(f"kubemu store: {member.name} did not start", file=sys.stderr)
                    return 1
                await asyncio.sleep(0.1)
        _print_store(members, pki_dir, data_dir)
        waiters = [asyncio.ensure_future(c.wait()) for c in children]
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not stop.is_set():
            print("kubemu store: a member exited; stopping the others", file=sys.stderr)
        print("kubemu store: stopping", flush=True)
    finally:
        for child in children:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                await asyncio.wait_for(child.wait(), timeout=15)
            except TimeoutError:
                child.kill()
    return 0


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def _print_store(members: list[Any], pki_dir: str | None, data_dir: str) -> None:
    security = "plain HTTP (--insecure)" if pki_dir is None else f"HTTPS with client certificates ({pki_dir})"
    print(f"kubemu store: {len(members)} member(s), {security}, data in {data_dir}")
    for member in members:
        print(f"  {member.name}  client {member.client_url}  peer {member.peer_url}")
    url = members[0].client_url
    tls = ""
    if pki_dir is not None:
        tls = f"--cacert {pki_dir}/ca.crt --cert {pki_dir}/etcd/client.crt --key {pki_dir}/etcd/client.key "
    print("Try:")
    print(f'  curl -s {tls}{url}/v3/kv/put -X POST -d \'{{"key": "Zm9v", "value": "YmFy"}}\'')
    print(f'  curl -s {tls}{url}/v3/kv/range -X POST -d \'{{"key": "Zm9v"}}\'')
    print("Stop with Ctrl-C.", flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as the servers do: TIME_WAIT is no owner
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
