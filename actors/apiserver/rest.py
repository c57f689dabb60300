"""The REST verbs with Kubernetes semantics, over ``storage.ObjectStore`` and the watch caches.

``Rest`` is what both the HTTP layer and the internal (actor) client call. Every method takes the kind and
the coordinates from the request path and a body already decoded to a dict; it returns plain dicts and
raises ``status.ApiError`` with upstream's reason, code and wording. What it does, as upstream's generic
registry (``staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go``) and strategies do:

- create: the path's namespace must match the body's; ``generateName`` gets a random suffix (retried on a
  clash); uid, creationTimestamp, generation and an empty status are set; defaulting, then validation
  (422 with one cause per field); the namespace must exist and not be terminating; Services get their
  ClusterIP and NodePorts; ``dryRun=All`` stops before the store.
- update: optimistic concurrency on ``metadata.resourceVersion`` (stale: 409 Conflict; absent: the update is
  unconditional, retried against the latest version); uid and creationTimestamp cannot change; the main
  resource keeps ``status`` and the ``status`` subresource keeps everything else; immutable fields are
  checked; generation bumps on spec changes only.
- patch: JSON patch, merge patch or strategic merge patch applied to the latest version, then an update
  guarded by that version (retried on conflicts, as upstream retries a patch).
- delete: preconditions (uid, resourceVersion); an object with finalizers, a scheduled pod with a grace
  period, or a namespace is marked (``deletionTimestamp``) instead of removed; the answer is the object.
  ``propagationPolicy`` leaves the garbage collector's finalizer on the object (``foregroundDeletion``:
  dependents go first; ``orphan``: they are released), with upstream's per-kind defaults.
- list: from the watch cache for ``resourceVersion=0``; otherwise a consistent read from the store (the
  only way to honour ``limit``/``continue`` and exact versions).

Time comes from the injected clock, uids and names from the injected random generator.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from actors.apiserver import admission, allocators, status, storage, strategies
from actors.apiserver.watch_cache import Filter, WatchCache, Watcher
from actors.runtime.clock import Clock
from kube import defaults, errors, kinds, meta, validate, validation_fields
from kube import patch as json_patches
from kube import strategic_merge_patch as smp

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)
_RETRIES = 64  # attempts of an unconditional update or a patch that keeps losing races (upstream: unbounded)
_NAMESPACE_FINALIZER = "kubernetes"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListOptions:
    filter: Filter = dataclasses.field(default_factory=Filter)
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None  # the deprecated form of propagation_policy
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: dict[str, Any] | None, **overrides: Any) -> DeleteOptions:
        body = body or {}
        preconditions = body.get("preconditions") or {}
        values: dict[str, Any] = {
            "grace_period_seconds": body.get("gracePeriodSeconds"),
            "precondition_uid": preconditions.get("uid"),
            "precondition_resource_version": preconditions.get("resourceVersion"),
            "propagation_policy": body.get("propagationPolicy"),
            "orphan_dependents": body.get("orphanDependents"),
            "dry_run": bool(body.get("dryRun")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def validate(self) -> None:
        """422 as upstream's ``ValidateDeleteOptions`` words it, for a policy it does not know."""
        field_errors = []
        if self.propagation_policy is not None and self.propagation_policy not in _POLICIES:
            field_errors.append(
                validation_fields.not_supported("propagationPolicy", self.propagation_policy, _POLICIES)
            )
        if self.propagation_policy is not None and self.orphan_dependents is not None:
            field_errors.append(
                validation_fields.invalid(
                    "propagationPolicy",
                    self.propagation_policy,
                    "orphanDependents and deletionPropagation cannot be both set",
                )
            )
        if field_errors:
            raise status.invalid("DeleteOptions.meta.k8s.io", "", field_errors)


ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
_POLICIES = ("Foreground", "Background", "Orphan")


def gc_finalizers(kind: kinds.Kind, md: dict[str, Any], options: DeleteOptions) -> list[str]:
    """The finalizers a delete leaves on the object for the garbage collector (upstream's
    ``deletionFinalizersForGarbageCollection``): ``orphan`` to orphan the dependents, ``foregroundDeletion``
    to delete them first; Background leaves neither. Without a policy, one already asked for stays, else
    the kind's default applies: Orphan for a core/v1 ReplicationController (for backward compatibility),
    Background for everything else."""
    current = [f for f in md.get("finalizers") or [] if isinstance(f, str)]
    policy = options.propagation_policy
    if policy is None and options.orphan_dependents is not None:
        policy = "Orphan" if options.orphan_dependents else "Background"
    if policy is None:
        if ORPHAN_FINALIZER in current:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in current:
            policy = "Foreground"
        elif kind.group == "" and kind.resource == "replicationcontrollers":
            policy = "Orphan"
        else:
            policy = "Background"
    kept = [f for f in current if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        kept.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        kept.append(FOREGROUND_FINALIZER)
    return kept


class _StaleCache(Exception):
    """A write guarded by the watch cache's version lost: the store has a newer object."""


class Rest:
    """See the module docstring."""

    def __init__(
        self,
        *,
        objects: storage.ObjectStore,
        caches: dict[kinds.Kind, WatchCache],
        registry: kinds.Registry,
        clock: Clock,
        rng: random.Random,
        cluster_ips: allocators.ClusterIPAllocator,
        node_ports: allocators.NodePortAllocator,
    ) -> None:
        self.objects = objects
        self.caches = caches
        self.registry = registry
        self.clock = clock
        self.rng = rng
        self.cluster_ips = cluster_ips
        self.node_ports = node_ports
        self._namespaces = registry.by_resource("", "v1", "namespaces")

    # -- reads ---------------------------------------------------------------------------------------------

    async def get(self, kind: kinds.Kind, namespace: str | None, name: str) -> dict[str, Any]:
        return await self.objects.get(kind, namespace, name)

    async def list_objects(
        self, kind: kinds.Kind, namespace: str | None, options: ListOptions
    ) -> dict[str, Any]:
        """A ``<Kind>List`` with ``metadata.resourceVersion`` (and ``continue`` when there is more)."""
        rv = options.resource_version
        cache = self.caches.get(kind)
        filter = dataclasses.replace(options.filter, namespace=namespace if kind.namespaced else None)
        if cache is not None and cache.ready and rv == "0" and not options.continue_token:
            items = cache.select(filter)
            return _list_object(kind, items, cache.revision)
        revision = 0
        if rv and rv != "0":
            revision = _parse_rv(rv)
            if options.resource_version_match == "NotOlderThan":
                revision = 0  # a consistent read is never older than what was asked for
        if options.resource_version_match and not rv:
            raise status.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        selective = not filter.label_selector.empty or not filter.field_selector.empty
        if not selective:
            page = await self.objects.list(
                kind, namespace, limit=options.limit, continue_token=options.continue_token, revision=revision
            )
            return _list_object(kind, page.items, page.revision, page.continue_token, page.remaining)
        # Selectors filter after the read, so a page may come back short, as upstream's does.
        page = await self.objects.list(
            kind, namespace, limit=options.limit, continue_token=options.continue_token, revision=revision
        )
        items = [obj for obj in page.items if filter.matches(obj, kind)]
        return _list_object(kind, items, page.revision, page.continue_token, None)

    def watch(
        self, kind: kinds.Kind, namespace: str | None, options: ListOptions, wake: Any, *, buffer: int
    ) -> tuple[WatchCache, Watcher]:
        cache = self.caches[kind]
        filter = dataclasses.replace(options.filter, namespace=namespace if kind.namespaced else None)
        rv = options.resource_version
        start = _parse_rv(rv) if rv and rv != "0" else None
        return cache, cache.watch(filter, start, wake, buffer=buffer)

    # -- create --------------------------------------------------------------------------------------------

    async def create(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        fresh: bool = False,
    ) -> dict[str, Any]:
        """``fresh``: the body was made for this call and no one else holds it, and the caller only reads
        the answer (which shares it); the watch cache then takes the object as written."""
        obj = self._checked_body(kind, namespace, body, fresh=fresh)
        md = obj["metadata"]
        if md.get("resourceVersion"):
            raise status.bad_request("resourceVersion should not be set on objects to be created")
        generated = not md.get("name") and bool(md.get("generateName"))
        for attempt in range(_RETRIES):
            # a generated name that clashed retries with a new one, from the body as it came
            candidate = meta.deep_copy(obj) if generated else obj
            cmd = candidate["metadata"]
            if not cmd.get("name") and cmd.get("generateName"):
                cmd["name"] = meta.generate_name(cmd["generateName"], self.rng)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
                cmd.pop(field, None)
            cmd["uid"] = meta.new_uid(self.rng)
            cmd["creationTimestamp"] = meta.now_rfc3339(self.clock.now())
            _default(kind, candidate)
            _drop_empty_meta(cmd)
            admission.admit_create(kind, candidate, self._priority_classes)
            strategies.prepare_for_create(kind, candidate)
            _validate_create(kind, candidate)
            if kind.namespaced:
                await self._check_namespace(kind, cmd["name"], cmd["namespace"])
            allocated = self._allocate(kind, candidate, None)
            if dry_run:
                self._release(allocated)
                return candidate
            try:
                return await self.objects.create(kind, candidate, keep=fresh)
            except status.ApiError as error:
                self._release(allocated)
                if error.reason == "AlreadyExists" and not md.get("name") and md.get("generateName"):
                    if attempt < _RETRIES - 1:
                        continue
                    raise status.generate_name_conflict(kind, cmd["name"], 1) from None
                raise
        raise AssertionError("unreachable")

    async def bind(
        self, pods: kinds.Kind, namespace: str | None, name: str, target: Any, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """``pods/binding``: set ``spec.nodeName`` once and mark the pod ``PodScheduled`` (upstream's
        BindingREST). Unlike upstream, a node that does not exist is refused (409): the scheduler then
        re-queues the pod instead of leaving it to the pod garbage collector."""
        if not target or not isinstance(target, str):
            raise status.invalid(
                "Binding", name, [errors.FieldError(field="target.name", type=errors.FieldErrorType.REQUIRED)]
            )
        cache = self.caches.get(pods)
        cached = cache.get(namespace, name) if cache is not None and cache.ready else None
        try:
            return await self._bind_once(pods, namespace, name, target, cached, dry_run)
        except _StaleCache:
            return await self._bind_once(pods, namespace, name, target, None, dry_run)

    async def _bind_once(
        self,
        pods: kinds.Kind,
        namespace: str | None,
        name: str,
        target: str,
        cached: dict[str, Any] | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        """One try at a binding from ``cached`` (the watch cache's pod: no store read) or the store's."""
        found = cached if cached is not None else await self.objects.get(pods, namespace, name)
        current = (found.get("spec") or {}).get("nodeName")
        if current:
            raise status.conflict(pods, name, f'pod {name} is already assigned to node "{current}"')
        if found["metadata"].get("deletionTimestamp"):
            raise status.conflict(pods, name, f"pod {name} is being deleted, cannot be assigned to a host")
        if not self._node_exists(target):
            raise status.conflict(pods, name, f'node "{target}" not found, cannot bind pod {name}')
        now = meta.now_rfc3339(self.clock.now())
        pod = _bound(found, target, now)
        if dry_run:
            return pod
        # Straight to storage, guarded by the version read: spec.nodeName is immutable to updates. No one
        # sees ``pod`` but the watch cache, which takes it as written.
        try:
            written = await self.objects.update(
                pods, pod, int(found["metadata"]["resourceVersion"]), keep=True
            )
        except status.ApiError as error:
            if cached is not None and error.reason in ("Conflict", "NotFound"):
                raise _StaleCache from error  # the cache lagged the store: read the store once
            raise
        answer = _bound(found, target, now)  # the caller's own
        answer["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
        return answer

    def _priority_classes(self) -> list[dict[str, Any]]:
        """The PriorityClasses the watch cache holds (for the Priority admission plugin)."""
        kind = self.registry.by_resource("scheduling.k8s.io", "v1", "priorityclasses")
        cache = self.caches.get(kind) if kind is not None else None
        return list(cache.objects.values()) if cache is not None else []

    async def _check_namespace(self, kind: kinds.Kind, name: str, namespace: str) -> None:
        """404 for a namespace that does not exist, 403 for one being deleted (upstream's
        NamespaceLifecycle admission)."""
        assert self._namespaces is not None
        cache = self.caches.get(self._namespaces)
        found = cache.get(None, namespace) if cache is not None and cache.ready else None
        if found is None:
            try:
                found = await self.objects.get(self._namespaces, None, namespace)
            except status.ApiError:
                raise status.not_found(self._namespaces, namespace) from None
        terminating = (found.get("status") or {}).get("phase") == "Terminating"
        if found.get("metadata", {}).get("deletionTimestamp") or terminating:
            raise status.forbidden(
                kind,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    # -- update and patch ----------------------------------------------------------------------------------

    async def update(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        obj = self._checked_body(kind, namespace, body, name=name)
        wanted = obj["metadata"].get("resourceVersion") or ""
        for attempt in range(_RETRIES):
            old = await self._current(kind, namespace, name, cached=attempt == 0)
            if wanted and wanted != old["metadata"]["resourceVersion"] and attempt == 0:
                old = await self._current(kind, namespace, name, cached=False)  # the cache may lag
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise status.conflict(kind, name)
            uid, current_uid = obj["metadata"].get("uid"), old["metadata"].get("uid")
            if uid and uid != current_uid:  # upstream's UID precondition, taken from the object sent
                raise status.conflict(
                    kind,
                    name,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current_uid}",
                )
            try:
                return await self._write_update(kind, obj, old, subresource=subresource, dry_run=dry_run)
            except status.ApiError as error:
                if error.reason != "Conflict" or wanted:
                    raise
        raise status.conflict(kind, name)

    async def patch(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if patch_type not in PATCH_TYPES:
            raise status.unsupported_media_type(PATCH_TYPES)
        for attempt in range(_RETRIES):
            old = await self._current(kind, namespace, name, cached=attempt == 0)
            patched = _apply_patch(kind, old, patch_type, patch)
            if not isinstance(patched, dict):
                raise status.bad_request("the patch did not produce an object")
            md = patched.setdefault("metadata", {})
            if not isinstance(md, dict):
                raise status.bad_request("metadata must be an object")
            if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
                if attempt == 0:
                    continue  # read from the cache: look at the store before calling it a conflict
                raise status.conflict(kind, name)
            md["resourceVersion"] = old["metadata"]["resourceVersion"]
            patched.setdefault("apiVersion", kind.api_version)
            patched.setdefault("kind", kind.kind)
            # a merge patch's result is a new document sharing nothing with the stored object or the patch
            obj = self._checked_body(kind, namespace, patched, name=name, fresh=patch_type == MERGE_PATCH)
            try:
                return await self._write_update(kind, obj, old, subresource=subresource, dry_run=dry_run)
            except status.ApiError as error:
                if error.reason != "Conflict":
                    raise
        raise status.conflict(kind, name)

    async def _current(
        self, kind: kinds.Kind, namespace: str | None, name: str, *, cached: bool
    ) -> dict[str, Any]:
        """The object to update: the watch cache's (a copy) on a first try, as upstream's
        ``GuaranteedUpdate`` starts from its cached object, else the store's. A cached object that lagged
        makes the guarded write fail with a conflict, and the retry reads the store."""
        if cached:
            cache = self.caches.get(kind)
            found = cache.get(namespace, name) if cache is not None and cache.ready else None
            if found is not None:
                return meta.deep_copy(found)
        return await self.objects.get(kind, namespace, name)

    async def _write_update(
        self, kind: kinds.Kind, obj: dict[str, Any], old: dict[str, Any], *, subresource: str, dry_run: bool
    ) -> dict[str, Any]:
        old_md = old["metadata"]
        if subresource == "status":
            new = strategies.prepare_for_status_update(obj, old)
        elif subresource == "finalize":
            finalizers = (obj.get("spec") or {}).get("finalizers")
            if finalizers is not None and (
                not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
            ):
                raise status.bad_request(
                    f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: json: '
                    "cannot unmarshal value into Go struct field NamespaceSpec.spec.finalizers of type "
                    "[]v1.FinalizerName"
                )
            new = strategies.prepare_for_finalize(obj, old)
        else:
            new = obj
            md = new["metadata"]
            for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if field in old_md:
                    md[field] = old_md[field]
                else:
                    md.pop(field, None)
            md.pop("managedFields", None)
            strategies.prepare_for_update(kind, new, old)
            _default(kind, new)
            defaults.prepare_for_update(kind, new, old)
        _drop_empty_meta(new["metadata"])
        if subresource == "status":
            causes = validate.validate_status_update(new, old)
            if causes:
                raise status.invalid(kind, new["metadata"].get("name", ""), causes)
        else:
            _validate_update(kind, new, old)
        if subresource != "status":
            admission.admit_update(kind, new, self._priority_classes)
        allocated = self._allocate(kind, new, old) if subresource != "status" else []
        expected = int(old_md["resourceVersion"])
        if dry_run:
            self._release(allocated)
            return new
        if _same(new, old):  # nothing changed: no write, no new version, no event (as upstream's storage)
            self._release(allocated)
            return old
        if (
            old_md.get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and _removable(kind, new)
        ):
            await self.objects.delete(kind, old, expected)
            return new
        try:
            written = await self.objects.update(kind, new, expected)
        except status.ApiError:
            self._release(allocated)
            raise
        self._release_dropped(kind, new, old)
        return written

    # -- delete --------------------------------------------------------------------------------------------

    async def delete(
        self, kind: kinds.Kind, namespace: str | None, name: str, options: DeleteOptions
    ) -> tuple[dict[str, Any], int]:
        """(the object as it is after the call, HTTP status): 200 when gone or marked, 202 while a
        foreground deletion waits for dependents (not used yet)."""
        options.validate()
        for _ in range(_RETRIES):
            old = await self.objects.get(kind, namespace, name)
            md = old["metadata"]
            if options.precondition_uid is not None and options.precondition_uid != md.get("uid"):
                raise status.conflict(
                    kind,
                    name,
                    f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                    f"UID in object meta: {md.get('uid', '')}",
                )
            if (
                options.precondition_resource_version is not None
                and options.precondition_resource_version != md["resourceVersion"]
            ):
                raise status.conflict(
                    kind,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: "
                    f"{options.precondition_resource_version}, "
                    f"ResourceVersion in object meta: {md['resourceVersion']}",
                )
            marked = self._mark_for_deletion(kind, old, options)
            if options.dry_run:
                return (marked or old), 200
            try:
                if marked is not None:
                    if marked is old:
                        return old, 200  # already terminating with nothing new to record
                    return await self.objects.update(kind, marked, int(md["resourceVersion"])), 200
                await self.objects.delete(kind, old, int(md["resourceVersion"]))
            except status.ApiError as error:
                if error.reason == "Conflict":
                    continue
                raise
            self._release_dropped(kind, {}, old)
            return old, 200
        raise status.conflict(kind, name)

    def _node_exists(self, name: str) -> bool:
        nodes = self.registry.by_resource("", "v1", "nodes")
        cache = self.caches.get(nodes) if nodes is not None else None
        return cache is None or not cache.ready or cache.get(None, name) is not None

    def _mark_for_deletion(
        self, kind: kinds.Kind, obj: dict[str, Any], options: DeleteOptions
    ) -> dict[str, Any] | None:
        """The object with its deletion recorded when it must linger (finalizers, a graceful pod, a
        namespace), ``obj`` itself when it already lingers, None when it can go now."""
        md = obj["metadata"]
        is_pod = kind.group == "" and kind.resource == "pods"
        is_namespace = kind.group == "" and kind.resource == "namespaces"
        grace = 0
        if is_pod:
            spec = obj.get("spec") or {}
            asked = options.grace_period_seconds
            grace = int(spec.get("terminationGracePeriodSeconds", 30)) if asked is None else asked
            done = (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if not spec.get("nodeName") or done or not self._node_exists(spec["nodeName"]):
                grace = (
                    0  # no kubelet will finish it: gone at once (upstream's pod GC does this for lost nodes)
                )
        finalizers = gc_finalizers(kind, md, options)
        if md.get("deletionTimestamp"):
            if is_pod and grace == 0 and not finalizers:
                return None  # a force delete of a terminating pod
            if finalizers != (md.get("finalizers") or []):
                changed = meta.deep_copy(obj)  # a later delete may change its mind about the dependents
                changed["metadata"]["finalizers"] = finalizers
                return changed
            return obj
        held = is_namespace and bool((obj.get("spec") or {}).get("finalizers"))  # the namespace controller's
        if not finalizers and not held and grace == 0:
            return None
        marked = meta.deep_copy(obj)
        mmd = marked["metadata"]
        if finalizers:
            mmd["finalizers"] = finalizers
        else:
            mmd.pop("finalizers", None)
        mmd["deletionTimestamp"] = meta.now_rfc3339(self.clock.now() + grace)
        mmd["deletionGracePeriodSeconds"] = grace
        if is_namespace:
            marked.setdefault("status", {})["phase"] = "Terminating"
        return marked

    async def delete_collection(
        self, kind: kinds.Kind, namespace: str | None, list_options: ListOptions, options: DeleteOptions
    ) -> dict[str, Any]:
        listed = await self.list_objects(kind, namespace, list_options)
        deleted = []
        for item in listed["items"]:
            md = item["metadata"]
            try:
                obj, _ = await self.delete(kind, md.get("namespace"), md["name"], options)
            except status.ApiError as error:
                if error.reason != "NotFound":
                    raise
                continue
            deleted.append(obj)
        return _list_object(kind, deleted, _parse_rv(listed["metadata"]["resourceVersion"]))

    # -- helpers -------------------------------------------------------------------------------------------

    def _checked_body(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        body: Any,
        *,
        name: str | None = None,
        fresh: bool = False,
    ) -> dict[str, Any]:
        """The body as an object of ``kind`` at these coordinates, or 400 as upstream words it. The body is
        copied (a caller on this host shares it) unless ``fresh``: made here, shared with no one."""
        if not isinstance(body, dict):
            raise status.bad_request(
                "the body of the request was in an unknown format - "
                "accepted media types include: application/json, application/yaml"
            )
        obj = body if fresh else meta.deep_copy(body)
        api_version = obj.get("apiVersion")
        kind_name = obj.get("kind")
        if (api_version is not None and api_version != kind.api_version) or (
            kind_name is not None and kind_name != kind.kind
        ):
            raise status.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({kind.api_version})"
                if api_version != kind.api_version
                else f"the kind in the data ({kind_name}) does not match the expected kind ({kind.kind})"
            )
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise status.bad_request(_undecodable(kind, "metadata", md, "v1.ObjectMeta"))
        _check_metadata_types(kind, md)
        if kind.namespaced:
            body_namespace = md.get("namespace")
            if body_namespace and namespace and body_namespace != namespace:
                raise status.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = namespace or body_namespace or "default"
        else:
            md.pop("namespace", None)
        if name is not None:
            if md.get("name") and md["name"] != name:
                raise status.bad_request(
                    f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
                )
            md["name"] = name
        return obj

    def _allocate(self, kind: kinds.Kind, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Any]:
        """Service addresses and ports (what this call took, so a failed write can give it back)."""
        if not (kind.group == "" and kind.resource == "services"):
            return []
        taken: list[Any] = []
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        service_type = spec.get("type", "ClusterIP")
        try:
            if service_type != "ExternalName":
                ip = spec.get("clusterIP") or old_spec.get("clusterIP") or ""
                if not ip:
                    ip = self.cluster_ips.allocate_next()
                    taken.append(("ip", ip))
                elif ip != "None" and ip != old_spec.get("clusterIP"):
                    self.cluster_ips.allocate(ip)
                    taken.append(("ip", ip))
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            if service_type in ("NodePort", "LoadBalancer"):
                old_ports = {
                    (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                    for p in old_spec.get("ports") or []
                }
                for index, port in enumerate(spec.get("ports") or []):
                    wanted = port.get("nodePort") or old_ports.get(
                        (port.get("port"), port.get("protocol", "TCP"))
                    )
                    if not wanted:
                        port["nodePort"] = self.node_ports.allocate_next()
                        taken.append(("port", port["nodePort"]))
                    elif wanted not in old_ports.values():
                        try:
                            self.node_ports.allocate(int(wanted))
                        except allocators.AllocationError as error:
                            raise status.invalid(
                                kind,
                                obj["metadata"]["name"],
                                [
                                    errors.FieldError(
                                        field=f"spec.ports[{index}].nodePort",
                                        type=errors.FieldErrorType.INVALID,
                                        bad_value=wanted,
                                        detail=str(error),
                                    )
                                ],
                            ) from None
                        port["nodePort"] = wanted
                        taken.append(("port", wanted))
                    else:
                        port["nodePort"] = wanted
        except allocators.AllocationError as error:
            self._release(taken)
            raise status.invalid(
                kind,
                obj["metadata"]["name"],
                [
                    errors.FieldError(
                        field="spec.clusterIPs",
                        type=errors.FieldErrorType.INVALID,
                        bad_value=spec.get("clusterIPs") or [spec.get("clusterIP", "")],
                        detail=f"failed to allocate IP {spec.get('clusterIP', '')}: {error}",
                    )
                ],
            ) from None
        return taken

    def _release(self, taken: list[Any]) -> None:
        for what, value in taken:
            if what == "ip":
                self.cluster_ips.release(value)
            else:
                self.node_ports.release(value)

    def _release_dropped(self, kind: kinds.Kind, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Give back the addresses and ports the old version held and the new one does not."""
        if not (kind.group == "" and kind.resource == "services"):
            return
        new_spec = new.get("spec") or {}
        old_spec = old.get("spec") or {}
        old_ip = old_spec.get("clusterIP")
        if old_ip and old_ip != "None" and old_ip != new_spec.get("clusterIP"):
            self.cluster_ips.release(old_ip)
        kept = {p.get("nodePort") for p in new_spec.get("ports") or []}
        for port in old_spec.get("ports") or []:
            if port.get("nodePort") and port["nodePort"] not in kept:
                self.node_ports.release(port["nodePort"])


def _bound(pod: dict[str, Any], node: str, now: str) -> dict[str, Any]:
    """``pod`` bound to ``node`` and ``PodScheduled`` since ``now``: new dicts and lists where a binding
    writes (metadata, spec, status, its conditions), the rest shared with ``pod``, which it leaves as it is
    (the watch cache's object, or a fresh read)."""
    scheduled = {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
    pod_status = dict(pod.get("status") or {})
    others = pod_status.get("conditions") or []
    pod_status["conditions"] = [scheduled, *(c for c in others if c.get("type") != "PodScheduled")]
    return {
        **pod,
        "metadata": dict(pod["metadata"]),
        "spec": {**(pod.get("spec") or {}), "nodeName": node},
        "status": pod_status,
    }


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal but for the resourceVersion a client sent back."""
    strip = {"resourceVersion"}
    new_meta = {k: v for k, v in new.get("metadata", {}).items() if k not in strip}
    old_meta = {k: v for k, v in old.get("metadata", {}).items() if k not in strip}
    if new_meta != old_meta:
        return False
    return {k: v for k, v in new.items() if k != "metadata"} == {
        k: v for k, v in old.items() if k != "metadata"
    }


_META_STRINGS = ("name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp")


def _check_metadata_types(kind: kinds.Kind, md: dict[str, Any]) -> None:
    """Metadata of the wrong JSON type is refused at decoding, as upstream's decoder refuses it (400)."""
    for field in _META_STRINGS:
        if field in md and md[field] is not None and not isinstance(md[field], str):
            raise status.bad_request(_undecodable(kind, f"metadata.{field}", md[field], "string"))
    for field in ("labels", "annotations"):
        value = md.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise status.bad_request(_undecodable(kind, f"metadata.{field}", value, "map[string]string"))
        for item in value.values():
            if not isinstance(item, str):
                raise status.bad_request(_undecodable(kind, f"metadata.{field}", item, "string"))
    finalizers = md.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise status.bad_request(_undecodable(kind, "metadata.finalizers", finalizers, "[]string"))
    generation = md.get("generation")
    if generation is not None and (not isinstance(generation, int) or isinstance(generation, bool)):
        raise status.bad_request(_undecodable(kind, "metadata.generation", generation, "int64"))
    owners = md.get("ownerReferences")
    if owners is not None and (not isinstance(owners, list) or not all(isinstance(o, dict) for o in owners)):
        raise status.bad_request(
            _undecodable(kind, "metadata.ownerReferences", owners, "[]v1.OwnerReference")
        )


def _undecodable(kind: kinds.Kind, field: str, value: Any, go_type: str) -> str:
    """Upstream's words for a body whose field has the wrong JSON type."""
    found = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "value"
    )
    return (
        f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: json: cannot unmarshal '
        f"{found} into Go struct field ObjectMeta.{field} of type {go_type}"
    )


_OMIT_EMPTY = ("labels", "annotations", "ownerReferences", "finalizers")


def _drop_empty_meta(md: dict[str, Any]) -> None:
    """Empty lists and maps of ObjectMeta are absent, as upstream's ``omitempty`` serialises them (a
    patch that removes the last owner reference leaves no ``ownerReferences: []``)."""
    for field in _OMIT_EMPTY:
        if field in md and not md[field]:
            del md[field]


def _removable(kind: kinds.Kind, obj: dict[str, Any]) -> bool:
    """Whether an object marked for deletion may go once its finalizers are gone (a pod waits for its
    kubelet unless its grace period is over; a namespace waits for its own finalizer)."""
    if kind.group == "" and kind.resource == "pods":
        return int(obj["metadata"].get("deletionGracePeriodSeconds") or 0) == 0
    if kind.group == "" and kind.resource == "namespaces":
        return not (obj.get("spec") or {}).get("finalizers")
    return True


def _apply_patch(kind: kinds.Kind, old: dict[str, Any], patch_type: str, patch: Any) -> Any:
    try:
        if patch_type == JSON_PATCH:
            if not isinstance(patch, list):
                raise errors.PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            return json_patches.json_patch(old, patch)
        if not isinstance(patch, dict):
            raise errors.PatchError(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            )
        if patch_type == MERGE_PATCH:
            return json_patches.merge_patch(old, patch)
        return smp.strategic_merge_patch(old, patch, kind.kind)
    except errors.PatchError as error:
        raise status.bad_request(str(error)) from None


def _list_object(
    kind: kinds.Kind,
    items: list[dict[str, Any]],
    revision: int,
    token: str = "",
    remaining: int | None = None,
) -> dict[str, Any]:
    list_meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if token:
        list_meta["continue"] = token
    if remaining is not None and token:
        list_meta["remainingItemCount"] = remaining
    return {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": list_meta, "items": items}


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise status.bad_request(f'Invalid value: "{text}": resourceVersion must be a number') from None
    if value < 0:
        raise status.bad_request(f'Invalid value: "{text}": resourceVersion must be a number')
    return value


def _default(kind: kinds.Kind, obj: dict[str, Any]) -> None:
    defaults.default(kind, obj)


def _validate_create(kind: kinds.Kind, obj: dict[str, Any]) -> None:
    causes = validate.validate_create(kind, obj)
    if causes:
        raise status.invalid(kind, obj["metadata"].get("name", ""), causes)


def _validate_update(kind: kinds.Kind, new: dict[str, Any], old: dict[str, Any]) -> None:
    causes = validate.validate_update(kind, new, old)
    if causes:
        raise status.invalid(kind, new["metadata"].get("name", ""), causes)
