"""The cluster PKI: one CA and the certificates the store's ports and the admin use, as kubeadm lays them out.

``write_pki(directory, members=n)`` makes (or reuses) this tree, like kubeadm's ``/etc/kubernetes/pki``::

    ca.crt, ca.key              the cluster CA (ECDSA P-256, CA:TRUE, keyUsage certSign/cRLSign), 10 years
    admin.crt, admin.key        client cert CN=kubernetes-admin, O=system:masters (the cluster-admin user)
    apiserver.crt, .key         the apiserver's serving cert (serverAuth); SANs localhost, kubernetes,
                                kubernetes.default(.svc(.cluster.local)), 127.0.0.1, ::1, 10.96.0.1
    etcd/server.crt, .key       the store's client port (serverAuth); SANs localhost, store-0..store-{n-1},
                                127.0.0.1, ::1
    etcd/peer.crt, .key         member to member (serverAuth + clientAuth), the same SANs
    etcd/client.crt, .key       a client cert for curl, etcdctl and benchmarks, CN=kubemu-etcd-client
    etcd/peer.secret            the Raft peer secret (see below)
    sa.key                      the key that signs ServiceAccount tokens (ECDSA P-256), as kubeadm's sa.key

Unlike kubeadm there is one CA, not a separate ``etcd/ca.crt``: every certificate here chains to ``ca.crt``.
Certificates are PEM files with mode 0644, keys unencrypted PKCS#8 PEM with mode 0600. Leaf certificates
last one year. Kubernetes reads a client certificate's user from its CN and its groups from its O
attributes; ``issue`` writes them and ``user_info`` reads them back.

Promises:

- ``write_pki`` is idempotent: a file already present and valid is kept byte for byte. A leaf that is
  unreadable, does not match its key, is not signed by the CA, is not what the layout asks for (for example
  the member count changed) or expires within 30 days is reissued. The CA is never replaced silently: a
  corrupted, mismatched or expired ``ca.crt``/``ca.key`` raises ``PkiError`` naming the file, because a new
  CA would orphan every certificate other members and clients hold.
- Files are written atomically (temporary file, then rename) under an exclusive lock on ``.lock`` in the
  directory, so hosts that share the directory may call ``write_pki`` and ``peer_secret`` at the same time.
- ``server_ssl_context`` and ``client_ssl_context`` speak TLS 1.2 or later and verify the peer against
  ``ca.crt``; the server asks for client certificates (mutual TLS) and by default refuses a client without
  one.

The peer port is different: PySyncObj's transport speaks raw TCP, so members do not use TLS between each
other. ``peer_secret(directory)`` returns a random 32-byte secret (hex) kept in ``etcd/peer.secret``, created
once; it is PySyncObj's ``password``, which encrypts and authenticates every peer message (Fernet), so a
process without the PKI directory can neither join nor read the Raft traffic. ``etcd/peer.crt`` exists for
tools and for a future TLS peer transport.

Keys, serial numbers and the secret come from the operating system's CSPRNG, never from the seeded
generators the rest of kubemu uses: they are secrets, not experiment inputs. The only clock read is the
wall time for validity periods (TLS checks validity against wall time too); pass ``now`` to pin it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import ipaddress
import logging
import os
import pathlib
import secrets
import ssl
import typing
from collections.abc import Iterator, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "system:masters"
ETCD_CLIENT_USER = "kubemu-etcd-client"
LOOPBACK_DNS_NAMES = ("localhost",)
LOOPBACK_IP_ADDRESSES = ("127.0.0.1", "::1")
APISERVER_DNS_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the first address of the default service network

_CERT_MODE = 0o644
_KEY_MODE = 0o600
# Hosts of one cluster may disagree a little about the time; a certificate must not be "not yet valid".
_BACKDATE = datetime.timedelta(minutes=5)
_RENEW_BEFORE = datetime.timedelta(days=30)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The key types a CA loaded from disk may have (a kubeadm CA is RSA); keys made here are always ECDSA P-256.
SigningKey = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)
_SIGNING_KEY_TYPES = (
    ec.EllipticCurvePrivateKey,
    rsa.RSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)
_E = typing.TypeVar("_E", bound=x509.ExtensionType)


class PkiError(Exception):
    """A PKI file is missing, unreadable or inconsistent; ``path`` names it."""

    def __init__(self, path: pathlib.Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyPair:
    """A certificate and its private key, in memory."""

    certificate: x509.Certificate
    private_key: SigningKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CertificateAuthority(KeyPair):
    """A CA's self-signed certificate and signing key; ``issue`` signs leaves with it."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyPairPaths:
    cert: pathlib.Path
    key: pathlib.Path


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PkiPaths:
    """Where each file of the layout lives; ``PkiPaths.under(directory)`` computes it without I/O."""

    directory: pathlib.Path
    ca: KeyPairPaths
    admin: KeyPairPaths
    apiserver: KeyPairPaths
    etcd_server: KeyPairPaths
    etcd_peer: KeyPairPaths
    etcd_client: KeyPairPaths
    etcd_peer_secret: pathlib.Path
    service_account_key: pathlib.Path

    @classmethod
    def under(cls, directory: str | os.PathLike[str]) -> PkiPaths:
        root = pathlib.Path(directory)

        def pair(stem: str) -> KeyPairPaths:
            return KeyPairPaths(cert=root / f"{stem}.crt", key=root / f"{stem}.key")

        return cls(
            directory=root,
            ca=pair("ca"),
            admin=pair("admin"),
            apiserver=pair("apiserver"),
            etcd_server=pair("etcd/server"),
            etcd_peer=pair("etcd/peer"),
            etcd_client=pair("etcd/client"),
            etcd_peer_secret=root / "etcd" / "peer.secret",
            service_account_key=root / "sa.key",
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    """The user a client certificate authenticates as, read the Kubernetes way (CN, O)."""

    name: str
    groups: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Profile:
    """What a leaf certificate must say; ``write_pki`` reuses a leaf only if it says exactly this."""

    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IpAddress, ...] = ()
    server: bool
    client: bool


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now if now is not None else datetime.datetime.now(datetime.UTC)


def _signature_hash(key: SigningKey) -> hashes.SHA256 | None:
    # Ed25519 and Ed448 sign the message itself; every other key type signs a digest.
    return None if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()


def _key_usage(*, authority: bool) -> x509.KeyUsage:
    """digitalSignature for every key (ECDSA signs the TLS handshake); certSign and cRLSign for a CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=authority,
        crl_sign=authority,
        encipher_only=False,
        decipher_only=False,
    )


def generate_ca(
    common_name: str = "kubemu-ca", *, valid_days: int = 3650, now: datetime.datetime | None = None
) -> CertificateAuthority:
    """A fresh ECDSA P-256 key and a self-signed CA certificate for it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _now(now) - _BACKDATE
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(authority=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


def issue(
    ca: CertificateAuthority,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str | IpAddress] = (),
    server: bool,
    client: bool,
    valid_days: int = 365,
    now: datetime.datetime | None = None,
) -> KeyPair:
    """A new ECDSA P-256 key and a certificate for it signed by ``ca``.

    ``server``/``client`` choose the extendedKeyUsage (serverAuth, clientAuth); at least one is required.
    For a client certificate Kubernetes takes the user from ``common_name`` and the groups from
    ``organizations``.
    """
    return _issue(
        ca, _profile(common_name, organizations, dns_names, ip_addresses, server, client), valid_days, now
    )


def _profile(
    common_name: str,
    organizations: Sequence[str],
    dns_names: Sequence[str],
    ip_addresses: Sequence[str | IpAddress],
    server: bool,
    client: bool,
) -> _Profile:
    if not (server or client):
        raise ValueError("a certificate needs server=True, client=True or both")
    return _Profile(
        common_name=common_name,
        organizations=tuple(organizations),
        dns_names=tuple(dns_names),
        ip_addresses=tuple(ipaddress.ip_address(a) for a in ip_addresses),
        server=server,
        client=client,
    )


def _issue(
    ca: CertificateAuthority, profile: _Profile, valid_days: int, now: datetime.datetime | None
) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in profile.organizations]
        + [x509.NameAttribute(NameOID.COMMON_NAME, profile.common_name)]
    )
    usages = [
        oid
        for oid, wanted in (
            (ExtendedKeyUsageOID.SERVER_AUTH, profile.server),
            (ExtendedKeyUsageOID.CLIENT_AUTH, profile.client),
        )
        if wanted
    ]
    start = _now(now) - _BACKDATE
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(authority=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in profile.dns_names]
    names += [x509.IPAddress(a) for a in profile.ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca.private_key, _signature_hash(ca.private_key))
    return KeyPair(certificate=certificate, private_key=key)


def user_info(certificate: x509.Certificate) -> UserInfo:
    """The user (CN) and groups (every O) of a client certificate, as Kubernetes' x509 authenticator reads."""

    def values(oid: x509.ObjectIdentifier) -> list[str]:
        found = certificate.subject.get_attributes_for_oid(oid)
        return [v.value if isinstance(v.value, str) else v.value.decode() for v in found]

    common_names = values(NameOID.COMMON_NAME)
    return UserInfo(
        name=common_names[0] if common_names else "", groups=tuple(values(NameOID.ORGANIZATION_NAME))
    )


def _layout(members: int) -> dict[str, _Profile]:
    """The profile of every leaf ``write_pki`` keeps, by the attribute name of its ``KeyPairPaths``."""
    store_names = (*LOOPBACK_DNS_NAMES, *(f"store-{i}" for i in range(members)))
    ips = tuple(ipaddress.ip_address(a) for a in LOOPBACK_IP_ADDRESSES)
    return {
        "etcd_server": _Profile(
            common_name="kubemu-etcd-server",
            dns_names=store_names,
            ip_addresses=ips,
            server=True,
            client=False,
        ),
        "etcd_peer": _Profile(
            common_name="kubemu-etcd-peer", dns_names=store_names, ip_addresses=ips, server=True, client=True
        ),
        "etcd_client": _Profile(common_name=ETCD_CLIENT_USER, server=False, client=True),
        "admin": _Profile(common_name=ADMIN_USER, organizations=(ADMIN_GROUP,), server=False, client=True),
        "apiserver": _Profile(
            common_name="kube-apiserver",
            dns_names=(*LOOPBACK_DNS_NAMES, *APISERVER_DNS_NAMES),
            ip_addresses=(*ips, ipaddress.ip_address(KUBERNETES_SERVICE_IP)),
            server=True,
            client=False,
        ),
    }


def write_pki(
    directory: str | os.PathLike[str], *, members: int, now: datetime.datetime | None = None
) -> PkiPaths:
    """Create or reuse the layout in the module docstring for a store of ``members`` members."""
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    paths = PkiPaths.under(directory)
    (paths.directory / "etcd").mkdir(parents=True, exist_ok=True)
    moment = _now(now)
    with _locked(paths.directory):
        ca = _ensure_ca(paths, moment)
        for attribute, profile in _layout(members).items():
            pair: KeyPairPaths = getattr(paths, attribute)
            reason = _reissue_reason(ca, pair, profile, moment)
            if reason is None:
                _tighten(pair.key)
                continue
            log.info("pki: issuing %s (%s)", pair.cert, reason)
            issued = _issue(ca, profile, 365, moment)
            _write_atomic(pair.key, issued.key_pem(), _KEY_MODE)
            _write_atomic(pair.cert, issued.cert_pem(), _CERT_MODE)
        _ensure_peer_secret(paths.etcd_peer_secret)
        if not paths.service_account_key.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_atomic(paths.service_account_key, pem, _KEY_MODE)
    return paths


def load_ca(paths: PkiPaths) -> CertificateAuthority:
    """The CA in ``paths``; ``PkiError`` names the file if a half is missing, unreadable or mismatched."""
    certificate = _read_certificate(paths.ca.cert)
    key = _read_private_key(paths.ca.key)
    if not _same_public_key(certificate, key):
        raise PkiError(paths.ca.key, f"is not the key of {paths.ca.cert}")
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise PkiError(paths.ca.cert, "is not a CA certificate (basicConstraints CA:TRUE missing)")
    return CertificateAuthority(certificate=certificate, private_key=key)


def _ensure_ca(paths: PkiPaths, now: datetime.datetime) -> CertificateAuthority:
    cert_exists, key_exists = paths.ca.cert.exists(), paths.ca.key.exists()
    if not cert_exists and not key_exists:
        log.info("pki: generating the cluster CA in %s", paths.ca.cert)
        ca = generate_ca(now=now)
        _write_atomic(paths.ca.key, ca.key_pem(), _KEY_MODE)
        _write_atomic(paths.ca.cert, ca.cert_pem(), _CERT_MODE)
        return ca
    if not cert_exists:
        raise PkiError(paths.ca.cert, f"is missing but {paths.ca.key} exists; restore it or remove both")
    if not key_exists:
        raise PkiError(paths.ca.key, f"is missing but {paths.ca.cert} exists; restore it or remove both")
    ca = load_ca(paths)
    if not ca.certificate.not_valid_before_utc <= now < ca.certificate.not_valid_after_utc:
        raise PkiError(
            paths.ca.cert,
            f"is not valid now (valid {ca.certificate.not_valid_before_utc} to "
            f"{ca.certificate.not_valid_after_utc}); remove the PKI directory to start a new cluster CA",
        )
    _tighten(paths.ca.key)
    return ca


def _reissue_reason(
    ca: CertificateAuthority, pair: KeyPairPaths, profile: _Profile, now: datetime.datetime
) -> str | None:
    """Why the leaf at ``pair`` cannot be kept, or None if it can."""
    try:
        certificate = _read_certificate(pair.cert)
        key = _read_private_key(pair.key)
    except PkiError as error:
        return str(error)
    if not _same_public_key(certificate, key):
        return "the key does not match the certificate"
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return "not signed by the cluster CA"
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc - _RENEW_BEFORE:
        return f"expired or expiring soon ({certificate.not_valid_after_utc})"
    if _profile_of(certificate) != profile:
        return "names or usages differ from the layout"
    return None


def _profile_of(certificate: x509.Certificate) -> _Profile | None:
    info = user_info(certificate)
    usage = _extension(certificate, x509.ExtendedKeyUsage)
    san = _extension(certificate, x509.SubjectAlternativeName)
    if usage is None:
        return None
    return _Profile(
        common_name=info.name,
        organizations=info.groups,
        dns_names=tuple(san.get_values_for_type(x509.DNSName)) if san else (),
        ip_addresses=tuple(
            a
            for a in (san.get_values_for_type(x509.IPAddress) if san else ())
            if isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ),
        server=ExtendedKeyUsageOID.SERVER_AUTH in usage,
        client=ExtendedKeyUsageOID.CLIENT_AUTH in usage,
    )


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def service_account_key(paths: PkiPaths) -> ec.EllipticCurvePrivateKey:
    """The key that signs and verifies ServiceAccount tokens (``sa.key``, made by ``write_pki``)."""
    key = _read_private_key(paths.service_account_key)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(paths.service_account_key, "is not an ECDSA private key")
    return key


def peer_secret(directory: str | os.PathLike[str]) -> str:
    """The Raft peer secret kept in ``etcd/peer.secret`` under ``directory``, created on first use."""
    paths = PkiPaths.under(directory)
    paths.etcd_peer_secret.parent.mkdir(parents=True, exist_ok=True)
    with _locked(paths.directory):
        return _ensure_peer_secret(paths.etcd_peer_secret)


def _ensure_peer_secret(path: pathlib.Path) -> str:
    if not path.exists():
        _write_atomic(path, secrets.token_hex(32).encode() + b"\n", _KEY_MODE)
    _tighten(path)
    try:
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise PkiError(path, f"cannot be read: {error}") from error
    if not secret:
        raise PkiError(path, "is empty; remove it to create a new peer secret (on every member at once)")
    return secret


def server_ssl_context(
    paths: PkiPaths, *, require_client_cert: bool = True, identity: KeyPairPaths | None = None
) -> ssl.SSLContext:
    """A TLS server context presenting ``identity`` (the store's server cert by default).

    Client certificates are requested and verified against ``ca.crt``; with ``require_client_cert`` a
    client without one is refused, otherwise it may continue unauthenticated.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    _configure(context, paths, identity or paths.etcd_server)
    return context


def client_ssl_context(paths: PkiPaths, *, identity: KeyPairPaths | None = None) -> ssl.SSLContext:
    """A TLS client context presenting ``identity`` (the etcd client cert by default).

    The server's certificate must chain to ``ca.crt`` and name the host connected to.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _configure(context, paths, identity or paths.etcd_client)
    return context


def _configure(context: ssl.SSLContext, paths: PkiPaths, identity: KeyPairPaths) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Parse first: OpenSSL's own errors ("NO_CERTIFICATE_OR_CRL_FOUND") do not say which file is at fault.
    _read_certificate(paths.ca.cert)
    _read_certificate(identity.cert)
    _read_private_key(identity.key)
    try:
        context.load_verify_locations(cafile=paths.ca.cert)
    except ssl.SSLError as error:
        raise PkiError(paths.ca.cert, f"rejected by OpenSSL: {error}") from error
    try:
        context.load_cert_chain(identity.cert, identity.key)
    except ssl.SSLError as error:
        raise PkiError(identity.cert, f"rejected by OpenSSL with {identity.key}: {error}") from error


def _read_certificate(path: pathlib.Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError as error:
        raise PkiError(path, "is missing; run write_pki to create the PKI") from error
    except (OSError, ValueError) as error:
        raise PkiError(path, f"is not a readable PEM certificate: {error}") from error


def _read_private_key(path: pathlib.Path) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as error:
        raise PkiError(path, "is missing; run write_pki to create the PKI") from error
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise PkiError(path, f"is not a readable unencrypted PEM private key: {error}") from error
    if not isinstance(key, _SIGNING_KEY_TYPES):
        raise PkiError(path, f"holds a {type(key).__name__}, which cannot sign certificates")
    return key


def _same_public_key(certificate: x509.Certificate, key: SigningKey) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return certificate.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def _write_atomic(path: pathlib.Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed or the file may have existed
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _tighten(path: pathlib.Path) -> None:
    """Keys and secrets are 0600 even if someone loosened them."""
    if path.stat().st_mode & 0o777 != _KEY_MODE:
        path.chmod(_KEY_MODE)


@contextlib.contextmanager
def _locked(directory: pathlib.Path) -> Iterator[None]:
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
