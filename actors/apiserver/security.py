"""Who a request is and what it may do: authentication and RBAC authorisation around ``HttpApi``.

``Security`` joins ``authn.Authenticator`` (client certificates verified by TLS, static bearer tokens,
ServiceAccount tokens) and ``rbac.Authorizer`` (fed from the RBAC watch caches as objects change) into the
two callbacks ``HttpApi`` takes:

- ``authenticate(request)``: the ``UserInfo`` of the request, or 401 ``Unauthorized`` (a Status) when a
  credential was presented and rejected; no credential is ``system:anonymous`` (upstream's default);
- ``authorize(user, attributes)``: nothing, or 403 ``Forbidden`` with upstream's wording.

``Impersonate-User`` and ``Impersonate-Group`` headers (``kubectl --as``, ``--as-group``) switch the user when
the authenticated one may ``impersonate`` them (cluster-admins may), as upstream's impersonation filter does.

Members of ``system:masters`` pass without consulting RBAC, as kube-apiserver's privileged group does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from cryptography import x509

from actors.apiserver import authn, rbac, status
from consensus import http_server as hs


class Security:
    def __init__(
        self,
        *,
        authenticator: authn.Authenticator,
        now: Callable[[], float],
        lookup: authn.Lookup | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.authorizer = rbac.Authorizer(privileged_groups=(rbac.MASTERS_GROUP,))
        self.now = now
        self.lookup = lookup
        self.denied = 0
        self.unauthenticated = 0

    def authenticate(self, request: hs.Request) -> rbac.UserInfo:
        user = self._authenticate(request)
        wanted = request.headers.get("impersonate-user")
        if wanted is None:
            return user
        return self._impersonate(user, wanted, request.headers.get("impersonate-group"))

    def _impersonate(self, user: rbac.UserInfo, name: str, groups: str | None) -> rbac.UserInfo:
        """Act as another user (``kubectl --as``), if ``user`` may ``impersonate`` that user and each group,
        as upstream's impersonation filter checks."""
        wanted_groups = [g.strip() for g in groups.split(",")] if groups else []
        checks: list[dict[str, Any]] = []
        if name.startswith(rbac.SERVICE_ACCOUNT_USER_PREFIX):
            namespace, _, account = name[len(rbac.SERVICE_ACCOUNT_USER_PREFIX) :].partition(":")
            checks.append(
                {
                    "verb": "impersonate",
                    "resource": "serviceaccounts",
                    "namespace": namespace,
                    "name": account,
                }
            )
        else:
            checks.append({"verb": "impersonate", "resource": "users", "name": name})
        checks += [{"verb": "impersonate", "resource": "groups", "name": g} for g in wanted_groups]
        for check in checks:
            self.authorize(user, {"api_group": "", **check})
        groups_now = tuple(wanted_groups)
        if name != rbac.ANONYMOUS_USER and rbac.AUTHENTICATED_GROUP not in groups_now:
            groups_now += (rbac.AUTHENTICATED_GROUP,)
        return rbac.UserInfo(name=name, groups=groups_now)

    def _authenticate(self, request: hs.Request) -> rbac.UserInfo:
        certificate = _certificate(request.peer_certificate_der) if request.peer_certificate_der else None
        try:
            return self.authenticator.authenticate(
                now=self.now(),
                certificate=certificate,
                authorization=request.headers.get("authorization"),
                lookup=self.lookup,
            )
        except authn.AuthenticationError:
            self.unauthenticated += 1
            raise status.unauthorized() from None

    def authorize(self, user: Any, request: dict[str, Any]) -> None:
        assert isinstance(user, rbac.UserInfo)
        resource = "resource" in request
        attributes = rbac.Attributes(
            user=user,
            verb=request["verb"],
            api_group=request.get("api_group", ""),
            resource=request.get("resource", ""),
            subresource=request.get("subresource", ""),
            namespace=request.get("namespace", ""),
            name=request.get("name", ""),
            resource_request=resource,
            path=request.get("path", ""),
        )
        decision = self.authorizer.authorize(attributes)
        if not decision.allowed:
            self.denied += 1
            raise rbac.forbidden(attributes, decision.reason)

    def review(
        self, user: Any, kind_name: str, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The answer to an access, rules, token or self-subject review (create-only kinds, never stored)."""
        assert isinstance(user, rbac.UserInfo)
        spec = body.get("spec") or {}
        answer = {**body, "status": {}}
        answer.setdefault("metadata", {})
        if kind_name == "SelfSubjectAccessReview":
            answer["status"] = rbac.access_review_status(self.authorizer, spec, requester=user)
        elif kind_name in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            if kind_name == "LocalSubjectAccessReview":
                spec = {
                    **spec,
                    "resourceAttributes": {**(spec.get("resourceAttributes") or {}), "namespace": namespace},
                }
            answer["status"] = rbac.access_review_status(self.authorizer, spec)
        elif kind_name == "SelfSubjectRulesReview":
            answer["status"] = rbac.rules_review_status(
                self.authorizer, user, str(spec.get("namespace") or "")
            )
        elif kind_name == "SelfSubjectReview":
            answer["status"] = {"userInfo": user_view(user)}
        elif kind_name == "TokenReview":
            try:
                reviewed = self.authenticator.authenticate(
                    now=self.now(), authorization=f"Bearer {spec.get('token', '')}", lookup=self.lookup
                )
            except authn.AuthenticationError as error:
                answer["status"] = {"authenticated": False, "error": str(error)}
            else:
                answer["status"] = {
                    "authenticated": reviewed.name != rbac.ANONYMOUS_USER,
                    "user": user_view(reviewed),
                }
        return answer

    def on_rbac_change(self, change_type: str, obj: dict[str, Any]) -> None:
        """Keep the authorizer in step with the RBAC caches."""
        if change_type == "DELETED":
            self.authorizer.remove(obj)
        else:
            self.authorizer.add(obj)


@functools.lru_cache(maxsize=1024)
def _certificate(der: bytes) -> x509.Certificate:
    """Parsed once per distinct certificate: every request of a kubectl session presents the same one."""
    return x509.load_der_x509_certificate(der)


def user_view(user: rbac.UserInfo) -> dict[str, Any]:
    """``authentication.k8s.io/v1`` UserInfo."""
    view: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        view["uid"] = user.uid
    if user.extra:
        view["extra"] = {k: list(v) for k, v in user.extra.items()}
    return view
