"""The cluster PKI: the files it lays out, reuse, what each certificate says, and mutual TLS on loopback."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import pathlib
import ssl
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from consensus import pki

LEAVES = ("etcd_server", "etcd_peer", "etcd_client", "admin", "apiserver")
NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> pki.PkiPaths:
    """A PKI for three members that tests only read."""
    return pki.write_pki(tmp_path_factory.mktemp("pki"), members=3)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> pki.PkiPaths:
    """Another cluster's PKI: same layout, another CA."""
    return pki.write_pki(tmp_path_factory.mktemp("stranger"), members=3)


def certificate(path: pathlib.Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def all_files(paths: pki.PkiPaths) -> dict[str, pathlib.Path]:
    files = {"peer.secret": paths.etcd_peer_secret}
    for attribute in ("ca", *LEAVES):
        pair: pki.KeyPairPaths = getattr(paths, attribute)
        files[f"{attribute}.crt"], files[f"{attribute}.key"] = pair.cert, pair.key
    return files


def snapshot(paths: pki.PkiPaths) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in all_files(paths).items()}


def save(pair: pki.KeyPair, where: pki.KeyPairPaths) -> None:
    where.key.write_bytes(pair.key_pem())
    where.cert.write_bytes(pair.cert_pem())


# --- the layout on disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "mode"),
    [
        pytest.param("ca.crt", 0o644, id="CA certificate is world-readable"),
        pytest.param("ca.key", 0o600, id="CA key is owner-only"),
        pytest.param("etcd/server.crt", 0o644, id="store server certificate"),
        pytest.param("etcd/server.key", 0o600, id="store server key"),
        pytest.param("etcd/peer.crt", 0o644, id="store peer certificate"),
        pytest.param("etcd/peer.key", 0o600, id="store peer key"),
        pytest.param("etcd/client.crt", 0o644, id="etcd client certificate"),
        pytest.param("etcd/client.key", 0o600, id="etcd client key"),
        pytest.param("admin.crt", 0o644, id="admin certificate"),
        pytest.param("admin.key", 0o600, id="admin key"),
        pytest.param("etcd/peer.secret", 0o600, id="Raft peer secret is owner-only"),
    ],
)
def test_write_pki_lays_out_files_with_modes(cluster: pki.PkiPaths, relative: str, mode: int) -> None:
    path = cluster.directory / relative
    assert path in all_files(cluster).values()
    assert path.stat().st_mode & 0o777 == mode
    assert path.read_bytes().startswith(b"-----BEGIN ") or relative.endswith(".secret")


def test_paths_are_computed_without_io(tmp_path: pathlib.Path) -> None:
    paths = pki.PkiPaths.under(tmp_path / "not-yet")
    assert paths.etcd_client.cert == tmp_path / "not-yet" / "etcd" / "client.crt"
    assert not (tmp_path / "not-yet").exists()


def test_running_again_keeps_every_file(tmp_path: pathlib.Path) -> None:
    first = pki.write_pki(tmp_path, members=3)
    before = snapshot(first)
    second = pki.write_pki(tmp_path, members=3)
    assert second == first
    assert snapshot(second) == before
    assert pki.peer_secret(tmp_path) == before["peer.secret"].decode().strip()


def expiring_admin(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    ca = pki.load_ca(paths)
    old = pki.issue(
        ca,
        common_name=pki.ADMIN_USER,
        organizations=(pki.ADMIN_GROUP,),
        server=False,
        client=True,
        now=NOW - datetime.timedelta(days=340),
    )
    save(old, paths.admin)


def foreign_client(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    paths.etcd_client.cert.write_bytes(stranger.etcd_client.cert.read_bytes())
    paths.etcd_client.key.write_bytes(stranger.etcd_client.key.read_bytes())


def mismatched_admin_key(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    paths.admin.key.write_bytes(stranger.admin.key.read_bytes())


def garbled_client_cert(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    paths.etcd_client.cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")


def loosened_admin_key(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    paths.admin.key.chmod(0o644)


def nothing(paths: pki.PkiPaths, stranger: pki.PkiPaths) -> None:
    pass


@pytest.mark.parametrize(
    ("damage", "members", "reissued"),
    [
        pytest.param(nothing, 5, {"etcd_server", "etcd_peer"}, id="store grows to 5 members: server, peer"),
        pytest.param(expiring_admin, 3, {"admin"}, id="leaf expiring within 30 days is renewed"),
        pytest.param(foreign_client, 3, {"etcd_client"}, id="leaf from another CA is replaced"),
        pytest.param(mismatched_admin_key, 3, {"admin"}, id="leaf whose key does not match is replaced"),
        pytest.param(garbled_client_cert, 3, {"etcd_client"}, id="unreadable leaf is replaced"),
        pytest.param(loosened_admin_key, 3, set(), id="loosened key is tightened, not replaced"),
    ],
)
def test_write_pki_reissues_only_what_is_wrong(
    tmp_path: pathlib.Path,
    stranger: pki.PkiPaths,
    damage: Callable[[pki.PkiPaths, pki.PkiPaths], None],
    members: int,
    reissued: set[str],
) -> None:
    paths = pki.write_pki(tmp_path, members=3)
    damage(paths, stranger)
    before = snapshot(paths)
    pki.write_pki(tmp_path, members=members)
    after = snapshot(paths)
    changed = {name.rsplit(".", 1)[0] for name in before if before[name] != after[name]}
    assert changed == reissued
    for name, path in all_files(paths).items():
        assert path.stat().st_mode & 0o777 == (0o644 if name.endswith(".crt") else 0o600), name
    ca = certificate(paths.ca.cert)
    for attribute in LEAVES:
        certificate(getattr(paths, attribute).cert).verify_directly_issued_by(ca)


# --- what the certificates say --------------------------------------------------------------------------


def test_ca_is_a_self_signed_p256_ca(cluster: pki.PkiPaths) -> None:
    ca = certificate(cluster.ca.cert)
    ca.verify_directly_issued_by(ca)
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == datetime.timedelta(days=3650)


@pytest.mark.parametrize("attribute", LEAVES)
def test_leaves_chain_to_the_ca_and_not_to_another(
    cluster: pki.PkiPaths, stranger: pki.PkiPaths, attribute: str
) -> None:
    leaf = certificate(getattr(cluster, attribute).cert)
    leaf.verify_directly_issued_by(certificate(cluster.ca.cert))
    with pytest.raises(InvalidSignature):
        leaf.verify_directly_issued_by(certificate(stranger.ca.cert))
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


LOOPBACK_IPS = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
STORE_DNS = {"localhost", "store-0", "store-1", "store-2"}


@pytest.mark.parametrize(
    ("attribute", "user", "groups", "dns", "ips", "usages"),
    [
        pytest.param(
            "etcd_server",
            "kubemu-etcd-server",
            (),
            STORE_DNS,
            LOOPBACK_IPS,
            {ExtendedKeyUsageOID.SERVER_AUTH},
            id="store server: loopback and member names, serverAuth",
        ),
        pytest.param(
            "etcd_peer",
            "kubemu-etcd-peer",
            (),
            STORE_DNS,
            LOOPBACK_IPS,
            {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH},
            id="store peer: both usages",
        ),
        pytest.param(
            "etcd_client",
            "kubemu-etcd-client",
            (),
            set(),
            set(),
            {ExtendedKeyUsageOID.CLIENT_AUTH},
            id="etcd client: clientAuth, no names",
        ),
        pytest.param(
            "admin",
            "kubernetes-admin",
            ("system:masters",),
            set(),
            set(),
            {ExtendedKeyUsageOID.CLIENT_AUTH},
            id="admin: user from CN, group system:masters from O",
        ),
    ],
)
def test_names_and_usages(
    cluster: pki.PkiPaths,
    attribute: str,
    user: str,
    groups: tuple[str, ...],
    dns: set[str],
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address],
    usages: set[x509.ObjectIdentifier],
) -> None:
    leaf = certificate(getattr(cluster, attribute).cert)
    assert pki.user_info(leaf) == pki.UserInfo(name=user, groups=groups)
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names, addresses = (
            set(san.get_values_for_type(x509.DNSName)),
            set(san.get_values_for_type(x509.IPAddress)),
        )
    except x509.ExtensionNotFound:
        names, addresses = set(), set()
    assert (names, addresses) == (dns, ips)
    assert set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == usages
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=365)


@pytest.mark.parametrize("host", ["localhost", "store-2", "127.0.0.1", "::1"])
def test_server_cert_verifies_for_every_name_a_client_dials(cluster: pki.PkiPaths, host: str) -> None:
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    builder = verification.PolicyBuilder().store(verification.Store([certificate(cluster.ca.cert)]))
    chain = builder.build_server_verifier(subject).verify(certificate(cluster.etcd_server.cert), [])
    assert chain[-1] == certificate(cluster.ca.cert)


def test_issue_supports_several_groups_and_needs_a_usage() -> None:
    ca = pki.generate_ca("test-ca", valid_days=1)
    pair = pki.issue(ca, common_name="jane", organizations=("dev", "ops"), client=True, server=False)
    assert pki.user_info(pair.certificate) == pki.UserInfo(name="jane", groups=("dev", "ops"))
    assert ca.certificate.subject.rfc4514_string() == "CN=test-ca"
    with pytest.raises(ValueError, match="server=True, client=True"):
        pki.issue(ca, common_name="nobody", server=False, client=False)


# --- mutual TLS on loopback -----------------------------------------------------------------------------


async def exchange(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> str:
    """Connect to a TLS server on 127.0.0.1 that answers with the user the client's certificate names.

    "refused" when the handshake failed on either side; then the server's handler must not have run.
    """
    handled: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        info = pki.user_info(x509.load_der_x509_certificate(der)) if der else None
        reply = "anonymous" if info is None else " ".join((info.name, *info.groups))
        handled.append(reply)
        writer.write(reply.encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(10):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
                # In TLS 1.3 the client finishes first; a server that refuses it says so on the first read.
                line = await reader.readline()
                writer.close()
            except (ssl.SSLError, OSError):
                line = b""
    finally:
        server.close()
        await server.wait_closed()
    reply = line.decode().strip() or "refused"
    assert handled == ([] if reply == "refused" else [reply])
    return reply


def anonymous_client(paths: pki.PkiPaths) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=paths.ca.cert)


def bad_names_server(paths: pki.PkiPaths, tmp_path: pathlib.Path) -> ssl.SSLContext:
    pair = pki.issue(
        pki.load_ca(paths), common_name="elsewhere", dns_names=("elsewhere",), server=True, client=False
    )
    where = pki.KeyPairPaths(cert=tmp_path / "elsewhere.crt", key=tmp_path / "elsewhere.key")
    save(pair, where)
    return pki.server_ssl_context(paths, identity=where)


Contexts = Callable[[pki.PkiPaths, pki.PkiPaths, pathlib.Path], tuple[ssl.SSLContext, ssl.SSLContext]]

HANDSHAKES: list[object] = [
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), pki.client_ssl_context(p)),
        "kubemu-etcd-client",
        id="etcd client cert from the cluster CA is accepted",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), pki.client_ssl_context(p, identity=p.admin)),
        "kubernetes-admin system:masters",
        id="admin cert authenticates user and group",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), pki.client_ssl_context(p, identity=p.etcd_peer)),
        "kubemu-etcd-peer",
        id="peer cert is also a client cert",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), anonymous_client(p)),
        "refused",
        id="client without a cert is refused",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p, require_client_cert=False), anonymous_client(p)),
        "anonymous",
        id="client without a cert is let in when not required",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), pki.client_ssl_context(p, identity=o.etcd_client)),
        "refused",
        id="client cert from another CA is refused",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p), pki.client_ssl_context(p, identity=p.etcd_server)),
        "refused",
        id="server-only cert (no clientAuth) is refused as a client cert",
    ),
    pytest.param(
        lambda p, o, t: (pki.server_ssl_context(p, identity=o.etcd_server), pki.client_ssl_context(p)),
        "refused",
        id="server cert from another CA is refused by the client",
    ),
    pytest.param(
        lambda p, o, t: (bad_names_server(p, t), pki.client_ssl_context(p)),
        "refused",
        id="server cert not naming 127.0.0.1 is refused by the client",
    ),
]


@pytest.mark.parametrize(("contexts", "expected"), HANDSHAKES)
async def test_tls_handshake_on_loopback(
    cluster: pki.PkiPaths, stranger: pki.PkiPaths, tmp_path: pathlib.Path, contexts: Contexts, expected: str
) -> None:
    server_context, client_context = contexts(cluster, stranger, tmp_path)
    assert await exchange(server_context, client_context) == expected


def test_contexts_speak_tls12_or_later_and_verify_peers(cluster: pki.PkiPaths) -> None:
    server, client = pki.server_ssl_context(cluster), pki.client_ssl_context(cluster)
    assert server.minimum_version == client.minimum_version == ssl.TLSVersion.TLSv1_2
    assert server.verify_mode == client.verify_mode == ssl.CERT_REQUIRED
    assert client.check_hostname
    assert pki.server_ssl_context(cluster, require_client_cert=False).verify_mode == ssl.CERT_OPTIONAL


# --- broken CA and secret -------------------------------------------------------------------------------


def garble(path: pathlib.Path) -> None:
    path.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")


BREAKAGES = [
    pytest.param(
        lambda p, o: garble(p.ca.cert), "ca.crt", "not a readable PEM certificate", id="garbled ca.crt"
    ),
    pytest.param(lambda p, o: p.ca.cert.write_bytes(b""), "ca.crt", "not a readable PEM", id="empty ca.crt"),
    pytest.param(
        lambda p, o: garble(p.ca.key), "ca.key", "not a readable unencrypted PEM", id="garbled ca.key"
    ),
    pytest.param(
        lambda p, o: p.ca.key.write_bytes(o.ca.key.read_bytes()),
        "ca.key",
        "is not the key of",
        id="ca.key swapped",
    ),
]


@pytest.mark.parametrize(("breakage", "file", "problem"), BREAKAGES)
@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda p: pki.write_pki(p.directory, members=3), id="write_pki"),
        pytest.param(pki.load_ca, id="load_ca"),
    ],
)
def test_a_broken_ca_is_an_error_naming_the_file(
    tmp_path: pathlib.Path,
    stranger: pki.PkiPaths,
    breakage: Callable[[pki.PkiPaths, pki.PkiPaths], None],
    file: str,
    problem: str,
    operation: Callable[[pki.PkiPaths], object],
) -> None:
    paths = pki.write_pki(tmp_path, members=3)
    breakage(paths, stranger)
    broken = snapshot(paths)
    with pytest.raises(pki.PkiError, match=problem) as caught:
        operation(paths)
    assert caught.value.path == tmp_path / file
    assert str(tmp_path / file) in str(caught.value)
    assert snapshot(paths) == broken, "a broken CA must never be replaced silently"


@pytest.mark.parametrize(
    "make_context",
    [
        pytest.param(pki.server_ssl_context, id="server_ssl_context"),
        pytest.param(pki.client_ssl_context, id="client_ssl_context"),
    ],
)
def test_tls_contexts_name_a_corrupted_ca_crt(
    tmp_path: pathlib.Path, make_context: Callable[[pki.PkiPaths], ssl.SSLContext]
) -> None:
    paths = pki.write_pki(tmp_path, members=1)
    garble(paths.ca.cert)
    with pytest.raises(pki.PkiError, match=r"ca\.crt: is not a readable PEM certificate"):
        make_context(paths)


@pytest.mark.parametrize(
    ("remove", "missing"),
    [
        pytest.param("ca.crt", "ca.crt", id="only ca.key left"),
        pytest.param("ca.key", "ca.key", id="only ca.crt left"),
    ],
)
def test_half_a_ca_is_an_error(tmp_path: pathlib.Path, remove: str, missing: str) -> None:
    pki.write_pki(tmp_path, members=1)
    (tmp_path / remove).unlink()
    with pytest.raises(pki.PkiError, match="is missing but") as caught:
        pki.write_pki(tmp_path, members=1)
    assert caught.value.path == tmp_path / missing


def test_an_expired_ca_is_an_error(tmp_path: pathlib.Path) -> None:
    pki.write_pki(tmp_path, members=1, now=NOW - datetime.timedelta(days=3651))
    with pytest.raises(pki.PkiError, match=r"ca\.crt: is not valid now"):
        pki.write_pki(tmp_path, members=1)


def test_peer_secret_is_created_once_per_directory(tmp_path: pathlib.Path) -> None:
    secret = pki.peer_secret(tmp_path / "a")
    assert len(bytes.fromhex(secret)) == 32
    assert (tmp_path / "a" / "etcd" / "peer.secret").stat().st_mode & 0o777 == 0o600
    assert pki.peer_secret(tmp_path / "a") == secret
    assert pki.write_pki(tmp_path / "a", members=1) and pki.peer_secret(tmp_path / "a") == secret
    assert pki.peer_secret(tmp_path / "b") != secret


def test_an_empty_peer_secret_is_an_error(tmp_path: pathlib.Path) -> None:
    pki.peer_secret(tmp_path)
    (tmp_path / "etcd" / "peer.secret").write_text("\n")
    with pytest.raises(pki.PkiError, match=r"etcd/peer\.secret: is empty"):
        pki.peer_secret(tmp_path)


def test_members_must_be_positive(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="members must be at least 1"):
        pki.write_pki(tmp_path, members=0)
