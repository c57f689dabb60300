"""Authentication: client certificates, the static token file, ServiceAccount JWTs and the chain."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from actors.apiserver import authn
from actors.apiserver.authn import AuthenticationError, ObjectRef
from actors.apiserver.rbac import UserInfo
from consensus import pki

NOW = 1_700_000_000.0
ISSUER = "https://kubernetes.default.svc.cluster.local"
SECRET = b"0123456789abcdef0123456789abcdef"
AUTHENTICATED = "system:authenticated"
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ca() -> pki.CertificateAuthority:
    return pki.generate_ca()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
    """An independent HS256 signer, so the module's JWT code is checked against the spec, not itself."""
    head = b64(json.dumps(header or {"alg": "HS256"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(SECRET, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def builder_claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "aud": [ISSUER],
        "exp": int(NOW) + 3600,
        "iat": int(NOW),
        "iss": ISSUER,
        "kubernetes.io": {"namespace": "dev", "serviceaccount": {"name": "builder", "uid": "sa-uid"}},
        "nbf": int(NOW),
        "sub": "system:serviceaccount:dev:builder",
    }
    claims.update(overrides)
    return claims


# ---- client certificates ----


@pytest.mark.parametrize(
    ("common_name", "organizations", "name", "groups"),
    [
        pytest.param("jane", ["dev", "ops"], "jane", ("dev", "ops", "system:authenticated"), id="cn-and-o"),
        pytest.param(
            "kubernetes-admin", ["system:masters"], "kubernetes-admin",
            ("system:masters", "system:authenticated"), id="admin",
        ),
        pytest.param("system:kube-proxy", [], "system:kube-proxy", ("system:authenticated",), id="no-groups"),
    ],
)  # fmt: skip
def test_client_certificate_user_is_cn_with_o_as_groups(
    ca: pki.CertificateAuthority,
    common_name: str,
    organizations: list[str],
    name: str,
    groups: tuple[str, ...],
) -> None:
    pair = pki.issue(ca, common_name=common_name, organizations=organizations, server=False, client=True)
    der = pair.certificate.public_bytes(serialization.Encoding.DER)
    assert authn.user_from_certificate(pair.certificate) == UserInfo(
        name=name,
        groups=groups,
        extra={
            "authentication.kubernetes.io/credential-id": (f"X509SHA256={hashlib.sha256(der).hexdigest()}",)
        },
    )


def test_certificate_without_common_name_authenticates_no_one(ca: pki.CertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dev")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(ca.private_key, hashes.SHA256())
    )
    assert authn.user_from_certificate(certificate) is None


@pytest.mark.parametrize(
    ("user", "groups"),
    [
        pytest.param(UserInfo(name="bob"), ("system:authenticated",), id="added"),
        pytest.param(UserInfo(name="bob", groups=("a",)), ("a", "system:authenticated"), id="appended"),
        pytest.param(UserInfo(name="bob", groups=(AUTHENTICATED,)), (AUTHENTICATED,), id="kept"),
        pytest.param(authn.ANONYMOUS, ("system:unauthenticated",), id="anonymous-untouched"),
        pytest.param(UserInfo(name="x", groups=("system:unauthenticated",)), ("system:unauthenticated",),
                     id="unauthenticated-untouched"),
    ],
)  # fmt: skip
def test_authenticated_group_adder(user: UserInfo, groups: tuple[str, ...]) -> None:
    assert authn.with_authenticated_group(user).groups == groups


# ---- static token file ----

TOKEN_FILES = [
    pytest.param("t1,bob,uid-1\n", {"t1": UserInfo(name="bob", uid="uid-1")}, id="three-columns"),
    pytest.param('t1,bob,uid-1,"dev,ops"\n', {"t1": UserInfo(name="bob", uid="uid-1", groups=("dev", "ops"))},
                 id="groups"),
    pytest.param("t1,bob,uid-1,dev\r\n\r\nt2,amy,uid-2\r\n", {
        "t1": UserInfo(name="bob", uid="uid-1", groups=("dev",)), "t2": UserInfo(name="amy", uid="uid-2"),
    }, id="crlf-and-blank-lines"),
    pytest.param("t1,bob,uid-1,\n", {"t1": UserInfo(name="bob", uid="uid-1", groups=("",))},
                 id="empty-groups-column-is-one-empty-group"),
    pytest.param('t1,"bob ""the builder""",u\n', {"t1": UserInfo(name='bob "the builder"', uid="u")},
                 id="escaped-quotes"),
    pytest.param('t1,"bob\nsmith",u', {"t1": UserInfo(name="bob\nsmith", uid="u")}, id="quoted-newline"),
    pytest.param("t1,bob,u,g,extra", {"t1": UserInfo(name="bob", uid="u", groups=("g",))},
                 id="extra-columns-ignored"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tokens"), TOKEN_FILES)
def test_token_file_records(text: str, tokens: dict[str, UserInfo]) -> None:
    parsed = authn.parse_token_file(text, path="/etc/kubernetes/tokens.csv")
    assert parsed.tokens == tokens
    assert parsed.warnings == ()


BAD_TOKEN_FILES = [
    pytest.param(
        "t1,bob\n",
        "token file '/etc/kubernetes/tokens.csv' must have at least 3 columns (token, user name, user uid), "
        "found 2",
        id="too-few-columns",
    ),
    pytest.param('t1,b"ob,u\n', 'parse error on line 1, column 5: bare " in non-quoted-field',
                 id="bare-quote"),
    pytest.param(
        'ok,a,b\n"t1"x,bob,u\n', 'parse error on line 2, column 4: extraneous or missing " in quoted-field',
        id="text-after-closing-quote",
    ),
    pytest.param(
        't1,"bob,u\n', 'parse error on line 1, column 11: extraneous or missing " in quoted-field',
        id="unterminated",
    ),
    pytest.param(
        't1,"bob,u', 'parse error on line 1, column 10: extraneous or missing " in quoted-field',
        id="unterminated-no-newline",
    ),
    pytest.param(
        't1,"bob\nsmith"x,u\n',
        'record on line 1; parse error on line 2, column 6: extraneous or missing " in quoted-field',
        id="multi-line-record",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_TOKEN_FILES)
def test_bad_token_files_are_refused_as_go_csv_and_upstream_word_it(text: str, message: str) -> None:
    with pytest.raises(authn.TokenFileError) as caught:
        authn.parse_token_file(text, path="/etc/kubernetes/tokens.csv")
    assert str(caught.value) == message


def test_empty_and_duplicate_tokens_are_warned_about() -> None:
    parsed = authn.parse_token_file(",nobody,u0\nt1,bob,u1\nt1,amy,u2\n", path="tokens.csv")
    assert parsed.tokens == {"t1": UserInfo(name="amy", uid="u2")}
    assert parsed.warnings == (
        "empty token has been found in token file 'tokens.csv', record number '1'",
        "duplicate token has been found in token file 'tokens.csv', record number '3'",
    )


def test_token_lookup_adds_the_authenticated_group() -> None:
    parsed = authn.parse_token_file('t1,bob,uid-1,"dev"\n')
    assert parsed.lookup("t1") == UserInfo(name="bob", uid="uid-1", groups=("dev", "system:authenticated"))
    assert parsed.lookup("t2") is None


# ---- service account tokens ----


def test_issued_token_has_upstreams_header_and_claims(rsa_key: rsa.RSAPrivateKey) -> None:
    token = authn.issue_service_account_token(
        key=rsa_key, namespace="dev", name="builder", uid="sa-uid", now=NOW + 0.75,
        pod=ObjectRef(name="web-0", uid="pod-uid"), jti="f0c1",
    )  # fmt: skip
    head, body, _ = token.split(".")
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert decode(head) == {"alg": "RS256", "kid": b64(hashlib.sha256(der).digest())}
    assert base64.urlsafe_b64decode(body + "==").decode() == (
        '{"aud":["https://kubernetes.default.svc.cluster.local"],"exp":1700003600,"iat":1700000000,'
        '"iss":"https://kubernetes.default.svc.cluster.local","jti":"f0c1","kubernetes.io":{"namespace":"dev",'
        '"pod":{"name":"web-0","uid":"pod-uid"},"serviceaccount":{"name":"builder","uid":"sa-uid"}},'
        '"nbf":1700000000,"sub":"system:serviceaccount:dev:builder"}'
    )


@pytest.mark.parametrize("kind", ["rsa", "ec", "hmac"])
def test_issued_tokens_verify_to_the_service_account(
    kind: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    keys: dict[str, authn.SigningKey] = {"rsa": rsa_key, "ec": ec_key, "hmac": SECRET}
    key = keys[kind]
    token = authn.issue_service_account_token(
        key=key, namespace="dev", name="builder", uid="sa-uid", now=NOW,
        pod=ObjectRef(name="web-0", uid="pod-uid"), node=ObjectRef(name="node-1", uid="node-uid"), jti="f0c1",
    )  # fmt: skip
    verify_key = key if isinstance(key, bytes) else key.public_key()
    assert authn.verify_service_account_token(token, keys=[verify_key], now=NOW + 3000) == UserInfo(
        name="system:serviceaccount:dev:builder",
        uid="sa-uid",
        groups=SA_GROUPS,
        extra={
            "authentication.kubernetes.io/pod-name": ("web-0",),
            "authentication.kubernetes.io/pod-uid": ("pod-uid",),
            "authentication.kubernetes.io/node-name": ("node-1",),
            "authentication.kubernetes.io/node-uid": ("node-uid",),
            "authentication.kubernetes.io/credential-id": ("JTI=f0c1",),
        },
    )


def test_keys_upstream_cannot_sign_with_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown private key curve, must be 256, 384, or 521"):
        authn.issue_service_account_token(
            key=ec.generate_private_key(ec.SECP256K1()), namespace="dev", name="b", uid="u", now=NOW
        )


def test_hs256_tokens_from_another_signer_verify() -> None:
    user = authn.verify_service_account_token(hs256(builder_claims()), keys=[SECRET], now=NOW)
    assert user == UserInfo(name="system:serviceaccount:dev:builder", uid="sa-uid", groups=SA_GROUPS)


REJECTED = [
    pytest.param(builder_claims(), NOW + 3600 + 61, "service account token has expired", id="expired"),
    pytest.param(builder_claims(nbf=int(NOW) + 120), NOW, "service account token is not valid yet", id="nbf"),
    pytest.param(builder_claims(iat=int(NOW) + 120), NOW, "service account token is issued in the future",
                 id="iat"),
    pytest.param(
        builder_claims(aud=["vault"]), NOW,
        'token audiences ["vault"] is invalid for the target audiences '
        '["https://kubernetes.default.svc.cluster.local"]',
        id="foreign-audience",
    ),
    pytest.param(
        builder_claims(**{"kubernetes.io": {"namespace": "dev"}}), NOW,
        "service account token claims could not be validated due to unexpected private claim",
        id="no-service-account",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("claims", "now", "message"), REJECTED)
def test_invalid_tokens_are_rejected_with_upstreams_reason(
    claims: dict[str, Any], now: float, message: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        authn.verify_service_account_token(hs256(claims), keys=[SECRET], now=now)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("claims", "now"),
    [
        pytest.param(builder_claims(), NOW + 3600 + 60, id="expiry-leeway"),
        pytest.param(builder_claims(nbf=int(NOW) + 60), NOW, id="not-before-leeway"),
        pytest.param(
            builder_claims(aud="https://kubernetes.default.svc.cluster.local"), NOW, id="aud-string"
        ),
        pytest.param(builder_claims(aud=[]), NOW, id="no-audience-means-the-apis"),
    ],
)
def test_tokens_within_upstreams_leeway_are_accepted(claims: dict[str, Any], now: float) -> None:
    assert authn.verify_service_account_token(hs256(claims), keys=[SECRET], now=now) is not None


def test_a_token_for_another_audience_verifies_when_that_audience_asks() -> None:
    token = hs256(builder_claims(aud=["vault"]))
    assert authn.verify_service_account_token(token, keys=[SECRET], now=NOW, audiences=["vault"]) is not None


def test_signature_failures_read_as_go_jose(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = authn.issue_service_account_token(key=rsa_key, namespace="dev", name="b", uid="u", now=NOW)
    head, _, signature = signed.split(".")
    tampered = f"{head}.{b64(json.dumps(builder_claims(sub='x')).encode())}.{signature}"
    bad, unsupported = (
        "go-jose/go-jose: error in cryptographic primitive",
        "go-jose/go-jose: unknown/unsupported algorithm",
    )
    token = hs256(builder_claims())
    ec_signed = authn.issue_service_account_token(key=ec_key, namespace="dev", name="b", uid="u", now=NOW)
    cases: dict[str, tuple[str, list[authn.VerifyKey], str]] = {
        "tampered": (tampered, [rsa_key.public_key()], bad),
        "unknown-kid": (signed, [other_rsa.public_key()], "invalid signature, no keys found"),
        "wrong-secret": (token, [b"another secret"], bad),
        "hmac-token-rsa-key": (token, [rsa_key], unsupported),
        "ec-short-signature": (ec_signed[:-8], [ec_key.public_key()], bad),
        "ec-token-rsa-key": (ec_signed, [rsa_key.public_key()], "invalid signature, no keys found"),
        "two-keys-one-message": (token, [b"k1", b"k2"], bad),
        "two-keys-two-messages": (token, [b"k1", ec_key], f"[{bad}, {unsupported}]"),
    }
    seen = {}
    for name, (token, keys, _) in cases.items():
        with pytest.raises(AuthenticationError) as caught:
            authn.verify_service_account_token(token, keys=keys, now=NOW)
        seen[name] = str(caught.value)
    assert seen == {name: message for name, (_, _, message) in cases.items()}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(hs256(builder_claims(iss="https://other.example")), id="other-issuer"),
        pytest.param(hs256(builder_claims(iss="kubernetes/serviceaccount")), id="legacy-issuer"),
        pytest.param(hs256(builder_claims(), {"alg": "none"}), id="alg-none"),
        pytest.param("not-a-jwt", id="opaque"),
        pytest.param('{"iss": "https://kubernetes.default.svc.cluster.local"}', id="json"),
        pytest.param("a.b.c", id="garbage-parts"),
        pytest.param(hs256(builder_claims()).replace(".", "=.", 1), id="padded-base64"),
    ],
)
def test_tokens_that_are_not_ours_are_left_to_other_authenticators(token: str) -> None:
    assert authn.verify_service_account_token(token, keys=[SECRET], now=NOW) is None


# ---- lookups of the objects a token is bound to ----

SA = {"metadata": {"name": "builder", "namespace": "dev", "uid": "sa-uid"}}
POD = {"metadata": {"name": "web-0", "namespace": "dev", "uid": "pod-uid"}}
SECRET_OBJ = {"metadata": {"name": "builder-token", "namespace": "dev", "uid": "secret-uid"}}


def deleted(obj: dict[str, Any], at: str) -> dict[str, Any]:
    return {"metadata": {**obj["metadata"], "deletionTimestamp": at}}


def bound(**refs: dict[str, str]) -> dict[str, Any]:
    private = {"namespace": "dev", "serviceaccount": {"name": "builder", "uid": "sa-uid"}, **refs}
    return builder_claims(**{"kubernetes.io": private})


INVALIDATED = "service account token has been invalidated"
POD_REF = {"name": "web-0", "uid": "pod-uid"}
SECRET_REF = {"name": "builder-token", "uid": "secret-uid"}
# NOW is 2023-11-14T22:13:20Z
LOOKUPS = [
    pytest.param(bound(), {}, 'serviceaccounts "builder" not found', id="sa-missing"),
    pytest.param(bound(), {"serviceaccounts": {**SA, "metadata": {**SA["metadata"], "uid": "new"}}},
                 "service account UID (new) does not match claim (sa-uid)", id="sa-recreated"),
    pytest.param(bound(), {"serviceaccounts": deleted(SA, "2023-11-14T22:12:00Z")},
                 "service account dev/builder has been deleted", id="sa-deleted"),
    pytest.param(bound(), {"serviceaccounts": deleted(SA, "2023-11-14T22:12:30Z")}, None,
                 id="sa-deleting-within-leeway"),
    pytest.param(bound(pod=POD_REF), {"serviceaccounts": SA}, "service account token has been invalidated",
                 id="pod-missing"),
    pytest.param(bound(pod=POD_REF), {"serviceaccounts": SA, "pods": {**POD, "metadata": {**POD["metadata"],
                 "uid": "p2"}}}, "pod UID (p2) does not match service account pod ref claim (pod-uid)",
                 id="pod-recreated"),
    pytest.param(bound(pod=POD_REF), {"serviceaccounts": SA, "pods": deleted(POD, "2023-11-14T22:00:00Z")},
                 "service account token has been invalidated", id="pod-deleted"),
    pytest.param(bound(pod=POD_REF), {"serviceaccounts": SA, "pods": POD}, None, id="pod-alive"),
    pytest.param(bound(secret=SECRET_REF), {"serviceaccounts": SA}, INVALIDATED, id="secret-missing"),
    pytest.param(bound(secret=SECRET_REF), {"serviceaccounts": SA, "secrets": {"metadata": {"uid": "s2"}}},
                 "secret UID (s2) does not match service account secret ref claim (secret-uid)",
                 id="secret-recreated"),
]  # fmt: skip


@pytest.mark.parametrize(("claims", "objects", "message"), LOOKUPS)
def test_bound_objects_must_still_exist(
    claims: dict[str, Any], objects: dict[str, dict[str, Any]], message: str | None
) -> None:
    asked: list[tuple[str, str, str]] = []

    def lookup(resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        asked.append((resource, namespace, name))
        return objects.get(resource)

    if message is None:
        assert authn.verify_service_account_token(hs256(claims), keys=[SECRET], now=NOW, lookup=lookup)
    else:
        with pytest.raises(AuthenticationError) as caught:
            authn.verify_service_account_token(hs256(claims), keys=[SECRET], now=NOW, lookup=lookup)
        assert str(caught.value) == message
    assert asked[0] == ("serviceaccounts", "dev", "builder")


# ---- the chain ----


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer abc", "abc", id="bearer"),
        pytest.param("bearer abc", "abc", id="case-insensitive"),
        pytest.param("  Bearer abc  ", "abc", id="trimmed"),
        pytest.param("Bearer abc def", "abc", id="third-part-ignored"),
        pytest.param("Bearer  abc", None, id="double-space-is-empty-token"),
        pytest.param("Bearer", None, id="no-token"),
        pytest.param("Basic Ym9iOnB3", None, id="basic"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_bearer_token_header(header: str | None, token: str | None) -> None:
    assert authn.bearer_token(header) == token


@pytest.fixture
def chain(rsa_key: rsa.RSAPrivateKey) -> authn.Authenticator:
    return authn.Authenticator(
        token_file=authn.parse_token_file('static-token,bob,uid-1,"dev"\n'),
        service_account_keys=[rsa_key.public_key()],
    )


def test_chain_tries_certificate_then_tokens_then_anonymous(
    chain: authn.Authenticator, ca: pki.CertificateAuthority, rsa_key: rsa.RSAPrivateKey
) -> None:
    cert = pki.issue(ca, common_name="jane", organizations=["ops"], server=False, client=True).certificate
    sa_token = authn.issue_service_account_token(
        key=rsa_key, namespace="dev", name="builder", uid="u", now=NOW
    )
    users = [
        chain.authenticate(now=NOW, certificate=cert, authorization="Bearer static-token"),
        chain.authenticate(now=NOW, authorization="Bearer static-token"),
        chain.authenticate(now=NOW, authorization=f"Bearer {sa_token}"),
        chain.authenticate(now=NOW),
    ]
    assert [(u.name, u.groups) for u in users] == [
        ("jane", ("ops", "system:authenticated")),
        ("bob", ("dev", "system:authenticated")),
        ("system:serviceaccount:dev:builder", SA_GROUPS),
        ("system:anonymous", ("system:unauthenticated",)),
    ]


def test_chain_refuses_bad_credentials_even_with_anonymous_on(
    chain: authn.Authenticator, rsa_key: rsa.RSAPrivateKey
) -> None:
    expired = authn.issue_service_account_token(
        key=rsa_key, namespace="dev", name="b", uid="u", now=NOW - 7200
    )
    failures = {}
    for name, header in {"unknown": "Bearer nope", "expired": f"Bearer {expired}"}.items():
        with pytest.raises(AuthenticationError) as caught:
            chain.authenticate(now=NOW, authorization=header)
        failures[name] = str(caught.value)
    assert failures == {
        "unknown": "invalid bearer token",
        "expired": "[invalid bearer token, service account token has expired]",
    }


def test_chain_without_anonymous_refuses_requests_without_credentials() -> None:
    with pytest.raises(AuthenticationError, match=r"^Unauthorized$"):
        authn.Authenticator(anonymous=False).authenticate(now=NOW)
