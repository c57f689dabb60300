"""Authentication: who a request comes from, decided from a client certificate or a bearer token.

Pure pieces of kube-apiserver's authenticator chain, each returning an ``rbac.UserInfo``:

- ``user_from_certificate``: the x509 authenticator (``CommonNameUserConversion``): user = subject CN,
  groups = every O, and the credential ID ``X509SHA256=<hex>`` in ``extra``. The certificate must already
  be verified against the CA (the TLS handshake of ``consensus.pki.server_ssl_context`` does that).
- ``parse_token_file`` / ``TokenFile.lookup``: ``--token-auth-file``, CSV lines ``token,user,uid[,"g1,g2"]``,
  read as Go's ``encoding/csv`` reads them, with upstream's errors and warnings.
- ``issue_service_account_token`` / ``verify_service_account_token``: bound ServiceAccount tokens (JWTs
  signed RS256 or ES256/384/512 as upstream, or HS256 with a shared secret, which upstream does not offer)
  with upstream's claims, key IDs, checks, leeway and error texts.
- ``Authenticator``: the chain (certificate, then token file, then service account tokens, then anonymous),
  with upstream's union semantics: the first success wins; if any authenticator failed, the request is
  refused even when anonymous access is on.

Every authenticated user also gets ``system:authenticated`` (``AuthenticatedGroupAdder``); the anonymous
user is ``system:anonymous`` in ``system:unauthenticated``. Time is the ``now`` argument (Unix seconds);
nothing reads a clock. ``AuthenticationError`` carries the text the apiserver logs; clients only see 401.

Left out: legacy Secret-based tokens (issuer ``kubernetes/serviceaccount``), the node reference check of
node-bound tokens (the node is carried into ``extra`` but not looked up), the UID attribute of client
certificates (feature-gated upstream), OIDC, webhooks, bootstrap tokens and request-header proxies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from actors.apiserver import rbac, status
from consensus import pki
from kube import meta

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
ANONYMOUS = rbac.UserInfo(name=rbac.ANONYMOUS_USER, groups=(rbac.UNAUTHENTICATED_GROUP,))
LEEWAY_SECONDS = 60  # go-jose's jwt.DefaultLeeway

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes
"""An RSA or EC private key, or the shared secret of HS256."""
VerifyKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes
)
Lookup = Callable[[str, str, str], Mapping[str, Any] | None]
"""``lookup(resource, namespace, name)``: the object (``serviceaccounts``, ``pods``, ``secrets``) or None."""

_CURVES = {"secp256r1": ("ES256", hashes.SHA256), "secp384r1": ("ES384", hashes.SHA384),
           "secp521r1": ("ES512", hashes.SHA512)}  # fmt: skip
_ALGORITHMS = ("RS256", "ES256", "ES384", "ES512", "HS256")
_BAD_SIGNATURE = "go-jose/go-jose: error in cryptographic primitive"
_UNSUPPORTED = "go-jose/go-jose: unknown/unsupported algorithm"


class AuthenticationError(Exception):
    """A credential was presented and rejected; the message is upstream's (the client sees 401)."""


def with_authenticated_group(user: rbac.UserInfo) -> rbac.UserInfo:
    """``AuthenticatedGroupAdder``: add ``system:authenticated`` unless anonymous or already grouped."""
    grouped = rbac.AUTHENTICATED_GROUP in user.groups or rbac.UNAUTHENTICATED_GROUP in user.groups
    if grouped or user.name == rbac.ANONYMOUS_USER:
        return user
    return dataclasses.replace(user, groups=(*user.groups, rbac.AUTHENTICATED_GROUP))


def user_from_certificate(certificate: x509.Certificate) -> rbac.UserInfo | None:
    """The user of a verified client certificate, or None if its CN is empty (not ours to judge)."""
    subject = pki.user_info(certificate)
    if not subject.name:
        return None
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return with_authenticated_group(
        rbac.UserInfo(
            name=subject.name,
            groups=subject.groups,
            extra={CREDENTIAL_ID_KEY: (f"X509SHA256={fingerprint}",)},
        )
    )


# ---- static token file ----


class TokenFileError(ValueError):
    """A token file that kube-apiserver would refuse to start with."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenFile:
    """The tokens of a ``--token-auth-file``; ``warnings`` are what upstream logs and skips past."""

    tokens: Mapping[str, rbac.UserInfo]
    warnings: tuple[str, ...] = ()

    def lookup(self, token: str) -> rbac.UserInfo | None:
        found = self.tokens.get(token)
        return with_authenticated_group(found) if found is not None else None


def parse_token_file(text: str, *, path: str = "") -> TokenFile:
    """Parse ``token,user,uid[,groups]`` records (Go CSV: quotes, ``""`` escapes, blank lines skipped).

    Groups split on ``,`` as upstream does, so an empty fourth column yields one empty group. An empty
    token is skipped and a repeated one replaces the earlier, each with a warning.
    """
    tokens: dict[str, rbac.UserInfo] = {}
    warnings: list[str] = []
    for number, record in enumerate(_go_csv(text), start=1):
        if len(record) < 3:
            raise TokenFileError(
                f"token file '{path}' must have at least 3 columns (token, user name, user uid), "
                f"found {len(record)}"
            )
        token = record[0]
        if not token:
            warnings.append(f"empty token has been found in token file '{path}', record number '{number}'")
            continue
        if token in tokens:
            warnings.append(
                f"duplicate token has been found in token file '{path}', record number '{number}'"
            )
        groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
        tokens[token] = rbac.UserInfo(name=record[1], uid=record[2], groups=groups)
    return TokenFile(tokens=tokens, warnings=tuple(warnings))


def _go_csv(text: str) -> Iterator[list[str]]:
    """Records as Go's ``csv.Reader`` (strict quotes, variable field count) reads them, with its errors."""
    lines = text.replace("\r\n", "\n").split("\n")
    last = len(lines) - 1  # lines[last] is what follows the final newline ("" if there is one)
    index = 0
    while index <= last:
        line, start, index = lines[index], index + 1, index + 1
        if not line:
            continue
        record: list[str] = []
        pos, number = 0, start
        while True:
            if not line.startswith('"', pos):  # plain field
                end = line.find(",", pos)
                field = line[pos:] if end < 0 else line[pos:end]
                if '"' in field:
                    raise _csv_error(start, number, pos + field.index('"') + 1, 'bare " in non-quoted-field')
                record.append(field)
                if end < 0:
                    break
                pos = end + 1
                continue
            pos += 1
            parts: list[str] = []
            while True:
                quote = line.find('"', pos)
                if quote < 0:  # the field goes on on the next line
                    if index > last or (index == last and not lines[last]):
                        column = len(line) + (2 if index <= last else 1)
                        raise _csv_error(start, number, column, 'extraneous or missing " in quoted-field')
                    parts.append(line[pos:] + "\n")
                    line, pos, number, index = lines[index], 0, number + 1, index + 1
                    continue
                parts.append(line[pos:quote])
                pos = quote + 1
                if line.startswith('"', pos):
                    parts.append('"')
                    pos += 1
                elif pos == len(line) or line[pos] == ",":
                    break
                else:
                    raise _csv_error(start, number, quote + 1, 'extraneous or missing " in quoted-field')
            record.append("".join(parts))
            if pos == len(line):
                break
            pos += 1
        yield record


def _csv_error(start: int, line: int, column: int, problem: str) -> TokenFileError:
    where = f"parse error on line {line}, column {column}: {problem}"
    return TokenFileError(where if start == line else f"record on line {start}; {where}")


# ---- service account tokens ----


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRef:
    """A name and UID in the ``kubernetes.io`` claim (pod, secret, node)."""

    name: str
    uid: str


def service_account_username(namespace: str, name: str) -> str:
    return f"{rbac.SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}"


def issue_service_account_token(
    *,
    key: SigningKey,
    namespace: str,
    name: str,
    uid: str,
    now: float,
    expiration_seconds: int = 3600,
    issuer: str = DEFAULT_ISSUER,
    audiences: Sequence[str] = (),
    pod: ObjectRef | None = None,
    secret: ObjectRef | None = None,
    node: ObjectRef | None = None,
    jti: str = "",
) -> str:
    """A bound token as TokenRequest issues it; ``audiences`` default to the issuer (``--api-audiences``)."""
    issued = math.floor(now)
    private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
    for field, ref in (("pod", pod), ("secret", secret), ("node", node)):
        if ref is not None:
            private[field] = {"name": ref.name, "uid": ref.uid}
    claims: dict[str, Any] = {
        "aud": list(audiences) or [issuer],
        "exp": issued + expiration_seconds,
        "iat": issued,
        "iss": issuer,
        "kubernetes.io": private,
        "nbf": issued,
        "sub": service_account_username(namespace, name),
    }
    if jti:
        claims["jti"] = jti
    return _sign(key, claims)


def key_id(key: VerifyKey) -> str:
    """Upstream's ``keyIDFromPublicKey``: unpadded base64url SHA-256 of the DER public key ("" for HMAC)."""
    if isinstance(key, bytes):
        return ""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def _sign(key: SigningKey, claims: Mapping[str, Any]) -> str:
    if isinstance(key, bytes):
        header: dict[str, str] = {"alg": "HS256"}
    elif isinstance(key, rsa.RSAPrivateKey):
        header = {"alg": "RS256", "kid": key_id(key)}
    elif key.curve.name in _CURVES:
        header = {"alg": _CURVES[key.curve.name][0], "kid": key_id(key)}
    else:
        raise ValueError("unknown private key curve, must be 256, 384, or 521")
    signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode()
    if isinstance(key, bytes):
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        algorithm = _CURVES[key.curve.name][1]()
        r, s = utils.decode_dss_signature(key.sign(signing_input, ec.ECDSA(algorithm)))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode()}.{_b64(signature)}"


def verify_service_account_token(
    token: str,
    *,
    keys: Sequence[VerifyKey],
    now: float,
    issuers: Sequence[str] = (DEFAULT_ISSUER,),
    api_audiences: Sequence[str] | None = None,
    audiences: Sequence[str] | None = None,
    lookup: Lookup | None = None,
) -> rbac.UserInfo | None:
    """The service account a token authenticates, None if it is not a JWT of these issuers.

    ``api_audiences`` default to the first issuer; ``audiences`` are the request's (default: the API's).
    With ``lookup`` the service account, and the pod or secret the token is bound to, must still exist with
    the UIDs of the claims, as upstream checks; without it the signed claims are trusted.
    Raises ``AuthenticationError`` with upstream's message for a token that is ours but invalid.
    """
    parsed = _parse(token, issuers)
    if parsed is None:
        return None
    header, claims, signing_input, signature = parsed
    kid = header.get("kid") or ""
    candidates = [k for k in keys if not kid or key_id(k) == kid]
    if not candidates:
        raise AuthenticationError("invalid signature, no keys found")
    failures = [_check(k, header["alg"], signing_input, signature) for k in candidates]
    if all(failures):
        raise AuthenticationError(rbac.aggregate_message([f for f in failures if f]))
    implicit = list(api_audiences) if api_audiences is not None else list(issuers[:1])
    claimed = claims.get("aud") or []
    token_audiences = ([claimed] if isinstance(claimed, str) else list(claimed)) or implicit
    requested = list(audiences) if audiences is not None else implicit
    if not set(token_audiences) & set(requested) and implicit:
        raise AuthenticationError(
            f"token audiences {_go_quote(token_audiences)} is invalid for the target audiences "
            f"{_go_quote(requested)}"
        )
    _check_times(claims, now)
    private = claims.get("kubernetes.io") or {}
    namespace = private.get("namespace") or ""
    account = private.get("serviceaccount") or {}
    if not namespace or not account.get("name"):
        raise AuthenticationError(
            "service account token claims could not be validated due to unexpected private claim"
        )
    refs: dict[str, Mapping[str, str]] = {f: private[f] for f in ("pod", "secret", "node") if private.get(f)}
    if lookup is not None:
        _check_objects(lookup, namespace, account, refs, now)
    extra: dict[str, tuple[str, ...]] = {}
    for field, name_key, uid_key in (
        ("pod", POD_NAME_KEY, POD_UID_KEY),
        ("node", NODE_NAME_KEY, NODE_UID_KEY),
    ):
        if field in refs:
            extra[name_key], extra[uid_key] = (refs[field].get("name", ""),), (refs[field].get("uid", ""),)
    if claims.get("jti"):
        extra[CREDENTIAL_ID_KEY] = (f"JTI={claims['jti']}",)
    return with_authenticated_group(
        rbac.UserInfo(
            name=service_account_username(namespace, account["name"]),
            uid=account.get("uid") or "",
            groups=(rbac.SERVICE_ACCOUNTS_GROUP, f"{rbac.SERVICE_ACCOUNTS_GROUP}:{namespace}"),
            extra=extra,
        )
    )


def _parse(token: str, issuers: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """Header, claims, signing input and signature of a compact JWS from one of ``issuers``, else None."""
    parts = token.split(".")
    if token.strip().startswith("{") or len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or claims.get("iss") not in issuers:
        return None
    if header.get("alg") not in _ALGORITHMS:
        return None
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _check(key: VerifyKey, algorithm: str, signing_input: bytes, signature: bytes) -> str:
    """ "" if ``signature`` is good, else go-jose's error text."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        key = key.public_key()
    try:
        if isinstance(key, bytes):
            if algorithm != "HS256":
                return _UNSUPPORTED
            expected = hmac.new(key, signing_input, hashlib.sha256).digest()
            return "" if hmac.compare_digest(expected, signature) else _BAD_SIGNATURE
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm != "RS256":
                return _UNSUPPORTED
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            return ""
        name, hash_type = _CURVES.get(key.curve.name, ("", hashes.SHA256))
        if algorithm != name:
            return _UNSUPPORTED
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return _BAD_SIGNATURE
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(hash_type()))
        return ""
    except InvalidSignature:
        return _BAD_SIGNATURE


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    """go-jose's ``Claims.Validate`` with its one-minute leeway, in its order, with upstream's messages."""
    if isinstance(claims.get("nbf"), int | float) and now + LEEWAY_SECONDS < claims["nbf"]:
        raise AuthenticationError("service account token is not valid yet")
    if isinstance(claims.get("exp"), int | float) and now - LEEWAY_SECONDS > claims["exp"]:
        raise AuthenticationError("service account token has expired")
    if isinstance(claims.get("iat"), int | float) and now + LEEWAY_SECONDS < claims["iat"]:
        raise AuthenticationError("service account token is issued in the future")


def _check_objects(
    lookup: Lookup,
    namespace: str,
    account: Mapping[str, str],
    refs: Mapping[str, Mapping[str, str]],
    now: float,
) -> None:
    """The service account, and the secret or pod the token is bound to, still exist as claimed."""
    name = account.get("name", "")
    found = lookup("serviceaccounts", namespace, name)
    if found is None:
        raise AuthenticationError(f"serviceaccounts {status.quote(name)} not found")
    if _deleted_before(found, now - LEEWAY_SECONDS):
        raise AuthenticationError(f"service account {namespace}/{name} has been deleted")
    actual = (found.get("metadata") or {}).get("uid", "")
    if actual != account.get("uid", ""):
        raise AuthenticationError(
            f"service account UID ({actual}) does not match claim ({account.get('uid', '')})"
        )
    for field, resource in (("secret", "secrets"), ("pod", "pods")):
        ref = refs.get(field)
        if ref is None:
            continue
        bound = lookup(resource, namespace, ref.get("name", ""))
        if bound is None or _deleted_before(bound, now - LEEWAY_SECONDS):
            raise AuthenticationError("service account token has been invalidated")
        actual = (bound.get("metadata") or {}).get("uid", "")
        if actual != ref.get("uid", ""):
            raise AuthenticationError(
                f"{field} UID ({actual}) does not match service account {field} ref claim "
                f"({ref.get('uid', '')})"
            )


def _deleted_before(obj: Mapping[str, Any], moment: float) -> bool:
    stamp: str = (obj.get("metadata") or {}).get("deletionTimestamp") or ""
    return bool(stamp) and meta.parse_rfc3339(stamp) < moment


# ---- the chain ----


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, as upstream's bearertoken reads it."""
    parts = (authorization or "").strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


class Authenticator:
    """kube-apiserver's authenticator chain over the pieces above; ``authenticate`` is pure given ``now``."""

    def __init__(
        self,
        *,
        token_file: TokenFile | None = None,
        service_account_keys: Sequence[VerifyKey] = (),
        issuers: Sequence[str] = (DEFAULT_ISSUER,),
        api_audiences: Sequence[str] | None = None,
        anonymous: bool = True,
    ) -> None:
        self._token_file = token_file
        self._keys = tuple(service_account_keys)
        self._issuers = tuple(issuers)
        self._api_audiences = api_audiences
        self._anonymous = anonymous

    def authenticate(
        self,
        *,
        now: float,
        certificate: x509.Certificate | None = None,
        authorization: str | None = None,
        lookup: Lookup | None = None,
    ) -> rbac.UserInfo:
        """The request's user; raises ``AuthenticationError`` (answer 401) when no one vouches for it."""
        if certificate is not None and (user := user_from_certificate(certificate)) is not None:
            return user
        token = bearer_token(authorization)
        if token is None:
            if self._anonymous:
                return ANONYMOUS
            raise AuthenticationError("Unauthorized")
        if self._token_file is not None and (user := self._token_file.lookup(token)) is not None:
            return user
        if self._keys:
            try:
                user = verify_service_account_token(
                    token, keys=self._keys, now=now, issuers=self._issuers,
                    api_audiences=self._api_audiences, lookup=lookup,
                )  # fmt: skip
            except AuthenticationError as error:
                raise AuthenticationError(f"[invalid bearer token, {error}]") from error
            if user is not None:
                return user
        raise AuthenticationError("invalid bearer token")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padded base64url")  # JWS uses unpadded base64url only
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: Mapping[str, Any]) -> bytes:
    # Go's encoding/json writes map keys sorted and without spaces; go-jose marshals claims as a map.
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _go_quote(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(status.quote(v) for v in values) + "]"
