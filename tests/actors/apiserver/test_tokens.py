"""ServiceAccount tokens: ``kubectl create token`` and what a client holding one may do."""

from __future__ import annotations

import json
import ssl
from typing import Any

import aiohttp

from tests.actors.apiserver.conftest import Cluster


def _context(cluster: Cluster, *, admin: bool) -> ssl.SSLContext:
    assert cluster.pki is not None
    context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
    if admin:
        context.load_cert_chain(str(cluster.pki.admin.cert), str(cluster.pki.admin.key))
    return context


async def call(
    cluster: Cluster, method: str, path: str, body: Any = None, *, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = _context(cluster, admin=token is None)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, cluster.url + path, json=body, headers=headers, ssl=context) as response,
    ):
        return response.status, json.loads(await response.read())


async def test_a_token_authenticates_its_service_account_until_the_account_is_gone(
    secure_cluster: Cluster,
) -> None:
    cluster = secure_cluster
    code, account = await call(
        cluster, "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}}
    )
    assert code == 201
    code, issued = await call(
        cluster,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/robot/token",
        {"spec": {"expirationSeconds": 3600}},
    )
    assert code == 201 and issued["kind"] == "TokenRequest"
    token = issued["status"]["token"]
    code, review = await call(
        cluster, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, token=token
    )
    assert code == 201
    user = review["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["uid"] == account["metadata"]["uid"]
    assert user["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    code, denied = await call(cluster, "GET", "/api/v1/namespaces/default/pods", token=token)
    assert (code, denied["reason"]) == (403, "Forbidden")
    await call(cluster, "DELETE", "/api/v1/namespaces/default/serviceaccounts/robot")
    code, gone = await call(cluster, "GET", "/api/v1/namespaces/default/pods", token=token)
    assert (code, gone["reason"]) == (401, "Unauthorized")


async def test_tokens_are_refused_for_missing_accounts_and_short_durations(secure_cluster: Cluster) -> None:
    cluster = secure_cluster
    code, missing = await call(cluster, "POST", "/api/v1/namespaces/default/serviceaccounts/ghost/token", {})
    assert (code, missing["message"]) == (404, 'serviceaccounts "ghost" not found')
    await call(cluster, "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "brief"}})
    code, short = await call(
        cluster,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/brief/token",
        {"spec": {"expirationSeconds": 60}},
    )
    assert (code, short["reason"]) == (422, "Invalid")
    assert short["message"].endswith(
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    )
    code, forged = await call(cluster, "GET", "/api/v1/namespaces/default/pods", token="not.a.token")
    assert (code, forged["reason"]) == (401, "Unauthorized")
