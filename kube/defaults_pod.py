"""Defaulting of pod specs, as upstream's ``pkg/apis/core/v1/defaults.go`` fills them.

Two entry points, because upstream distinguishes them:

* ``default_pod_spec`` is what every ``PodSpec`` gets, in a Pod or in a workload's template:
  ``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``, ``schedulerName: default-scheduler``,
  ``terminationGracePeriodSeconds: 30``, ``securityContext: {}``; for each container an
  ``imagePullPolicy`` (``Always`` for ``:latest`` or no tag, else ``IfNotPresent``),
  ``terminationMessagePath: /dev/termination-log``, ``terminationMessagePolicy: File``, ports with
  ``protocol: TCP``, ``resources: {}`` with quantities rounded up to millis, probe timings, ``httpGet``
  path and scheme, ``fieldRef.apiVersion: v1``; each volume without a source becomes an ``emptyDir``, and
  secret, config-map, downward-API and projected volumes get ``defaultMode: 420``.
* ``default_pod`` adds what only a Pod gets (``SetDefaults_Pod``): ``enableServiceLinks: true``, requests
  copied from limits where missing, and host ports equal to container ports under ``hostNetwork``.

Every function mutates the dict it is given, is idempotent, and leaves values of the wrong JSON type alone.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from kube import quantity
from kube.errors import QuantityError

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
VOLUME_DEFAULT_MODE = 0o644  # 420: Secret, ConfigMap, DownwardAPI and Projected volumes
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_VOLUME_SOURCES_WITH_MODE = ("secret", "configMap", "downwardAPI", "projected")


def child(parent: MutableMapping[str, Any], key: str) -> MutableMapping[str, Any]:
    """``parent[key]`` as a JSON object, created when absent; a detached dict when it has another type."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def set_default(parent: MutableMapping[str, Any], key: str, value: object) -> None:
    """Set ``parent[key]`` when it is absent or null (a Go pointer left nil)."""
    if parent.get(key) is None:
        parent[key] = value


def template_labels(template: MutableMapping[str, Any]) -> dict[str, Any] | None:
    """The labels of a pod template, without creating anything on the way."""
    metadata = template.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) else None


def children(parent: MutableMapping[str, Any], key: str) -> list[MutableMapping[str, Any]]:
    """The JSON objects in the array ``parent[key]`` (nothing when absent or not an array)."""
    value = parent.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def image_pull_policy(image: str) -> str:
    """``Always`` when the image names no tag or ``:latest`` (and no digest), else ``IfNotPresent``.

    As upstream (``parsers.ParseImageName``), an image that does not parse as a reference counts as having
    no tag and defaults to ``IfNotPresent``.
    """
    match = _IMAGE.fullmatch(image)
    if match is None:
        return "IfNotPresent"
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest" or (not tag and not digest):
        return "Always"
    return "IfNotPresent"


def default_pod(pod: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Pod`` and everything a PodSpec gets."""
    spec = child(pod, "spec")
    for name in ("containers", "initContainers"):
        for ctr in children(spec, name):
            resources = child(ctr, "resources")
            limits = resources.get("limits")
            if isinstance(limits, dict):
                requests = child(resources, "requests")
                for key, value in limits.items():
                    requests.setdefault(key, value)
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for name in ("containers", "initContainers"):
            for ctr in children(spec, name):
                for port in children(ctr, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    default_pod_spec(spec)


def default_pod_template(template: MutableMapping[str, Any]) -> None:
    """Defaults of a ``PodTemplateSpec`` inside a workload: only the PodSpec ones."""
    default_pod_spec(child(template, "spec"))


def default_pod_spec(spec: MutableMapping[str, Any]) -> None:
    """``SetDefaults_PodSpec`` plus the defaults of everything a PodSpec holds."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER_NAME
    for name in CONTAINER_LISTS:
        for ctr in children(spec, name):
            default_container(ctr)
    for volume in children(spec, "volumes"):
        _default_volume(volume)
    overhead = spec.get("overhead")
    if isinstance(overhead, dict):
        round_up_to_milli(overhead)


def default_container(ctr: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Container`` and the defaults of its ports, resources, probes and env."""
    if not ctr.get("imagePullPolicy"):
        image = ctr.get("image")
        ctr["imagePullPolicy"] = image_pull_policy(image if isinstance(image, str) else "")
    if not ctr.get("terminationMessagePath"):
        ctr["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not ctr.get("terminationMessagePolicy"):
        ctr["terminationMessagePolicy"] = "File"
    for port in children(ctr, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    resources = child(ctr, "resources")
    for name in ("limits", "requests"):
        values = resources.get(name)
        if isinstance(values, dict):
            round_up_to_milli(values)
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = ctr.get(name)
        if isinstance(probe, dict):
            _default_probe(probe)
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            handler = lifecycle.get(hook)
            if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
                _default_http_get(handler["httpGet"])
    for env in children(ctr, "env"):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            _default_field_ref(value_from["fieldRef"])


def round_up_to_milli(resources: MutableMapping[str, Any]) -> None:
    """``SetDefaults_ResourceList``: a quantity finer than a milli-unit is rounded up to one."""
    for name, raw in list(resources.items()):
        try:
            parsed = quantity.parse(raw if isinstance(raw, str) else str(raw))
        except QuantityError:
            continue
        remainder = parsed.nanos % 1_000_000
        if remainder:
            rounded = quantity.Quantity(nanos=parsed.nanos - remainder + 1_000_000, format=parsed.format)
            resources[name] = str(rounded)


def _default_probe(probe: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Probe``: 1 s timeout, 10 s period, 1 success, 3 failures."""
    for name, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1)):
        if not probe.get(name):
            probe[name] = value
    if not probe.get("failureThreshold"):
        probe["failureThreshold"] = 3
    if isinstance(probe.get("httpGet"), dict):
        _default_http_get(probe["httpGet"])


def _default_http_get(action: MutableMapping[str, Any]) -> None:
    if not action.get("path"):
        action["path"] = "/"
    if not action.get("scheme"):
        action["scheme"] = "HTTP"


def _default_field_ref(ref: MutableMapping[str, Any]) -> None:
    if not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _default_volume(volume: MutableMapping[str, Any]) -> None:
    """``SetDefaults_Volume`` and the modes of the file-projecting sources."""
    if not any(isinstance(v, dict) for k, v in volume.items() if k != "name"):
        volume["emptyDir"] = {}
    for source in _VOLUME_SOURCES_WITH_MODE:
        value = volume.get(source)
        if isinstance(value, dict) and value.get("defaultMode") is None:
            value["defaultMode"] = VOLUME_DEFAULT_MODE
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for projection in children(projected, "sources"):
            token = projection.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
            downward = projection.get("downwardAPI")
            if isinstance(downward, dict):
                for item in children(downward, "items"):
                    if isinstance(item.get("fieldRef"), dict):
                        _default_field_ref(item["fieldRef"])
    downward_api = volume.get("downwardAPI")
    if isinstance(downward_api, dict):
        for item in children(downward_api, "items"):
            if isinstance(item.get("fieldRef"), dict):
                _default_field_ref(item["fieldRef"])
