"""One scheduling cycle of kube-scheduler (v1.31 ``pkg/scheduler/schedule_one.go``) over a ``NodeTable``.

``schedule_one`` does upstream's ``schedulePod`` for one pod:

1. No nodes: the error "no nodes available to schedule pods".
2. PreFilter: each filter plugin may skip itself, narrow the nodes to a set of names (the others get the
   status "node is filtered out by the prefilter result", as v1.31 records them) or reject the pod outright
   (its message then replaces the per-node reasons: ``0/3 nodes are available: pod affinity terms
   conflict.``).
3. A pod whose ``status.nominatedNodeName`` still passes every filter goes there without a search.
4. Filter, from a rotating start (upstream's ``nextStartNodeIndex``, kept in the ``SchedulerState`` passed
   in): nodes are checked in turn, the first failing plugin giving a node its status, until
   ``num_feasible_nodes_to_find`` feasible nodes are found (the adaptive default: ``50 - nodes/125`` percent,
   at least 5 %, at least 100 nodes, all of them below 100). The start then advances by the number of
   nodes that got a verdict.
5. One feasible node is taken as is; several are scored by the profile's score plugins, each 0..100 times
   its weight, and the highest total wins. Ties are broken by ``rng``: one uniform draw among the tied
   nodes, which is what upstream's reservoir sampling amounts to; a seed therefore reproduces decisions.
6. No feasible node: the ``FitError`` message, ``0/<all nodes> nodes are available: <count> <reason>, ...``
   with the "<count> <reason>" strings sorted as strings (``sort.Strings``), followed by what the
   ``DefaultPreemption`` PostFilter reports: ``preemption: 0/<n> nodes are available: <count> Preemption is
   not helpful for scheduling`` for nodes rejected as unresolvable, ``<count> No preemption victims found
   for incoming pod`` for the others, or ``preemption: not eligible due to preemptionPolicy=Never.``.

The cycle reads the table and does not change it: the caller assumes the pod on the chosen node
(``NodeTable.assume``) before scheduling the next one, as upstream's ``schedulingCycle`` does.

The filters judge a window of rows at a time (up to ``SEARCH_WINDOW``) in a few array operations, from the
start on, until enough feasible nodes are found; the search is read off in order, as if nodes were checked
one at a time: the nodes that get a verdict are those before the feasible node one past the number needed
(upstream checks 16 nodes at a time, so it may judge a few more). A plugin that cannot judge a window alone
(``FilterPlugin.judges_rows``) judges the whole table once. Nodes are searched in table row order, not
upstream's zone-interleaved node tree. The verdicts of the plugins with a ``memo_key`` (those reading one
row alone: resources, node affinity, taints), and the weighted sum of the scores of those that score a row
alone with one (the resource scores), are kept by the table per row (``NodeTable.memo``): a pod like the one
before reads them back, and only the rows changed since are computed again. The outcome is the same.

The preemption part of the message is what ``DefaultPreemption`` says when no node has a lower-priority pod
to evict (the table does not track priorities). ``preemption.preempt`` runs the PostFilter itself from the
``Decision`` (``filter_message``, ``potential_nodes``) and gives the message to record instead, the same text
whenever it finds no victim.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.scheduler.plugins import (
    FilterPlugin,
    FilterResult,
    PodInfo,
    Profile,
    ScorePlugin,
    default_profile,
)
from actors.scheduler.table import NodeTable, RowMemo, Rows

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
FILTERED_OUT_BY_PREFILTER = "node is filtered out by the prefilter result"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"
PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never."


@dataclasses.dataclass(slots=True)
class SchedulerState:
    """What persists between cycles: where the next node search starts (``nextStartNodeIndex``)."""

    next_start_node_index: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a cycle.

    ``node`` is the chosen node, or ``None`` with ``message`` the FailedScheduling event text (and the
    ``PodScheduled`` condition's message). ``feasible`` counts the feasible nodes found, ``evaluated`` the
    nodes that got a verdict (upstream's ``EvaluatedNodes``); ``unschedulable_plugins`` names the plugins
    that rejected a node.

    When no node fits (upstream's ``FitError``), ``filter_message`` is the message without PostFilter's
    part and ``potential_nodes`` names, in node order, the nodes rejected as ``Unschedulable`` rather than
    ``UnschedulableAndUnresolvable``: where evicting pods might help (``NodesForStatusCode(Unschedulable)``).

    For a scheduler that searches its nodes in parts (``actors.scheduler.shards``) and merges the parts'
    answers: ``score`` is the chosen node's weighted total and ``tied`` how many scored nodes shared it (set
    whenever the cycle scored); ``reasons`` the FitError's count per reason and ``pre_filter_message`` the
    PreFilter rejection, each without the node total that the messages carry.
    """

    node: str | None
    feasible: int
    evaluated: int = 0
    message: str | None = None
    unschedulable_plugins: frozenset[str] = frozenset()
    filter_message: str | None = None
    potential_nodes: tuple[str, ...] = ()
    score: int | None = None
    tied: int = 0
    reasons: Mapping[str, int] = dataclasses.field(default_factory=dict)
    pre_filter_message: str = ""


def num_feasible_nodes_to_find(percentage_of_nodes_to_score: int, num_all_nodes: int) -> int:
    """How many feasible nodes end the search (upstream's ``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num_nodes = num_all_nodes * percentage // 100
    return max(num_nodes, MIN_FEASIBLE_NODES_TO_FIND)


def fit_error_message(
    num_all_nodes: int,
    reasons: Mapping[str, int],
    *,
    pre_filter_message: str = "",
    post_filter_message: str = "",
) -> str:
    """upstream's ``FitError.Error()``: PreFilter's message or the sorted reasons, then PostFilter's."""
    message = f"0/{num_all_nodes} nodes are available:"
    if pre_filter_message:
        message += f" {pre_filter_message}."
    else:
        histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    return with_post_filter(message, post_filter_message)


def with_post_filter(filter_message: str, post_filter_message: str) -> str:
    """A ``FitError`` message with PostFilter's part (``preemption: ...``) appended, when there is one."""
    return f"{filter_message} {post_filter_message}" if post_filter_message else filter_message


def preemption_message(pod: PodInfo, num_all_nodes: int, unresolvable: int, resolvable: int) -> str:
    """What ``DefaultPreemption``'s PostFilter says when it finds no candidate (see the module docstring)."""
    if pod.preempt_never:
        return f"preemption: {PREEMPTION_NEVER}"
    reasons: dict[str, int] = {}
    if unresolvable:
        reasons[PREEMPTION_NOT_HELPFUL] = unresolvable
    if resolvable:
        reasons[PREEMPTION_NO_VICTIMS] = resolvable
    return f"preemption: {fit_error_message(num_all_nodes, reasons)}"


_DEFAULT_PROFILE = default_profile()


def _rejected(pod: PodInfo, n: int, message: str, plugins: frozenset[str], preemption: bool) -> Decision:
    post = preemption_message(pod, n, unresolvable=n, resolvable=0) if preemption else ""
    text = fit_error_message(n, {}, pre_filter_message=message)
    return Decision(
        node=None,
        feasible=0,
        message=with_post_filter(text, post),
        unschedulable_plugins=plugins,
        filter_message=text,
        pre_filter_message=message,
    )


def schedule_one(
    pod: Mapping[str, Any],
    table: NodeTable,
    *,
    rng: random.Random,
    percentage_of_nodes_to_score: int = 0,
    state: SchedulerState | None = None,
    profile: Profile | None = None,
    preemption: bool = True,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    num_to_find: int | None = None,
    always_score: bool = False,
) -> Decision:
    """Pick a node for ``pod`` among ``table``'s nodes, as upstream's scheduling algorithm.

    ``state`` carries the rotating search start between calls (a fresh state starts at the first node);
    ``profile`` defaults to upstream's default profile; ``preemption`` adds ``DefaultPreemption``'s part of
    the message when no node fits; ``namespace_labels`` (namespace name to labels, from a namespace
    informer) is what pod affinity terms' ``namespaceSelector`` reads. ``num_to_find`` replaces the adaptive
    number of feasible nodes that ends the search, and ``always_score`` scores a single feasible node too:
    what a part of a sharded search needs (its nodes are not all the nodes).
    """
    prof = _DEFAULT_PROFILE if profile is None else profile
    cursor = SchedulerState() if state is None else state
    all_rows = table.rows()
    n = len(all_rows)
    if n == 0:
        return Decision(node=None, feasible=0, message=NO_NODES_AVAILABLE)
    info = PodInfo.from_pod(pod, namespace_labels=namespace_labels)

    active: list[FilterPlugin] = []
    allowed: frozenset[str] | None = None
    narrowing: list[str] = []
    for plugin in prof.filters:
        pre = plugin.pre_filter(info, table)
        if pre.rejection is not None:
            return _rejected(info, n, pre.rejection, frozenset({plugin.name}), preemption)
        if pre.skip:
            continue
        active.append(plugin)
        if pre.node_names is not None:
            narrowing.append(plugin.name)
            allowed = pre.node_names if allowed is None else allowed & pre.node_names
            if not allowed:
                if len(narrowing) == 1:
                    why = f"node(s) didn't satisfy plugin {narrowing[0]}"
                else:
                    why = f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}] simultaneously"
                return _rejected(info, n, why, frozenset(narrowing), preemption)

    if info.nominated_node:
        row = table.index(info.nominated_node)
        if row is not None:
            verdicts = [p.filter(info, table).failed for p in active]
            if not any(failed is not None and failed[row] for failed in verdicts):
                return Decision(node=info.nominated_node, feasible=1, evaluated=1)

    nodes = all_rows
    filtered_out = 0
    if allowed is not None:
        keep = np.zeros(table.capacity, np.bool_)
        for name in allowed:
            found = table.index(name)
            if found is not None:
                keep[found] = True
        nodes = all_rows[keep[all_rows]]
        filtered_out = n - len(nodes)
    m = len(nodes)
    if num_to_find is None:
        to_find = num_feasible_nodes_to_find(percentage_of_nodes_to_score, m)
    else:
        to_find = min(num_to_find, m)
    start = cursor.next_start_node_index % m if m else 0

    dense = nodes is all_rows and table.dense()
    feasible_at, cut = _search(info, table, active, nodes, dense=dense, start=start, to_find=to_find)
    evaluated = cut + filtered_out
    cursor.next_start_node_index = (cursor.next_start_node_index + evaluated) % n

    if len(feasible_at) == 0:  # which plugin failed each node: every plugin judges every row
        results = [plugin.filter(info, table) for plugin in active]
        return _fit_error(info, table, active, results, nodes, filtered_out, preemption)
    positions = feasible_at + start if start else feasible_at
    if start and int(positions[-1]) >= m:  # the search went round past the last node (positions ascend)
        positions %= m
    chosen = positions if dense else nodes[positions]
    if len(chosen) == 1 and not always_score:
        return Decision(node=table.name_at(int(chosen[0])), feasible=1, evaluated=evaluated)
    total = _score(info, table, prof, chosen)
    top = int(np.maximum.reduce(total))
    best = (total == top).nonzero()[0]
    pick = int(best[0]) if len(best) == 1 else int(best[rng.randrange(len(best))])
    return Decision(
        node=table.name_at(int(chosen[pick])),
        feasible=len(chosen),
        evaluated=evaluated,
        score=top,
        tied=len(best),
    )


SEARCH_WINDOW = 500
"""The most rows the filters judge at once. A search that finds its nodes early judges only the rows before
them, and numpy keeps the GIL for loops over up to 500 elements: beyond that it lets go at every operation
and this thread then waits to take it back from the store's threads."""


def _search(
    pod: PodInfo,
    table: NodeTable,
    active: list[FilterPlugin],
    nodes: NDArray[np.intp],
    *,
    dense: bool,
    start: int,
    to_find: int,
) -> tuple[NDArray[np.intp], int]:
    """Filter ``nodes`` in search order (rotated to begin at position ``start``) until one feasible node more
    than ``to_find`` is found; return the positions, in search order, of the first ``to_find`` feasible
    ones and how many nodes got a verdict: those before the one too many (or all of them). ``dense``: the
    nodes are rows ``0 .. len(nodes) - 1`` (windows are then slices)."""
    m = len(nodes)
    judges: list[Callable[[Rows], NDArray[np.bool_] | None]] = []
    memoised: list[tuple[FilterPlugin, Hashable]] = []
    reads_pods = False
    for plugin in active:
        key = plugin.memo_key(pod) if plugin.judges_rows else None
        if key is not None:
            memoised.append((plugin, key))
            reads_pods = reads_pods or plugin.reads_pods
        elif plugin.judges_rows:
            judges.append(functools.partial(plugin.filter_rows, pod, table))
        else:  # judged once over the whole table, read per window
            failed = plugin.filter(pod, table).failed
            if failed is not None:
                judges.append(failed.__getitem__)
    passing: RowMemo | None = None  # the memoised plugins' verdicts as one: which rows pass them all
    if memoised:

        def passes(rows: NDArray[np.intp]) -> NDArray[np.bool_]:
            failed_any = np.zeros(len(rows), np.bool_)
            for plugin, _ in memoised:
                failed = plugin.filter_rows(pod, table, rows)
                if failed is not None:
                    failed_any |= failed
            return ~failed_any

        key = ("filter", *(plugin_key for _, plugin_key in memoised))
        passing = table.memo(key, reads_pods=reads_pods)
    parts: list[NDArray[np.intp]] = []
    count = position = 0
    while position < m and count <= to_find:
        first = (start + position) % m
        length = min(SEARCH_WINDOW, m - position, m - first, max(2 * (to_find + 1 - count), 64))
        rows: Rows = slice(first, first + length) if dense else nodes[first : first + length]
        failed_any: NDArray[np.bool_] | None = None
        for judge in judges:
            failed = judge(rows)
            if failed is not None:
                failed_any = failed if failed_any is None else failed_any | failed
        if passing is not None:
            passed = passing.get(rows, passes)
            hits = (passed if failed_any is None else passed > failed_any).nonzero()[0]
        else:
            hits = np.arange(length) if failed_any is None else np.logical_not(failed_any).nonzero()[0]
        parts.append(hits + position if position else hits)
        count += len(hits)
        position += length
    if not parts:
        return np.zeros(0, np.intp), m
    feasible_at = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if len(feasible_at) > to_find:
        # the search stops at the feasible node one too many: it gets no verdict, nor do those after it
        return feasible_at[:to_find], int(feasible_at[to_find])
    return feasible_at, m


def _score(pod: PodInfo, table: NodeTable, profile: Profile, rows: NDArray[np.intp]) -> NDArray[np.int64]:
    """The weighted total of the profile's scores per row; the plugins that score a row alone score at
    most ``SEARCH_WINDOW`` rows at once (for the GIL, as ``_search``), the others all rows together. Those
    with a ``memo_key`` are summed once per row and kept by the table (``NodeTable.memo``)."""
    windows = [rows[lo : lo + SEARCH_WINDOW] for lo in range(0, len(rows), SEARCH_WINDOW)]
    alone = len(windows) == 1
    scorers: list[tuple[ScorePlugin, int]] = []
    memoised: list[tuple[ScorePlugin, int]] = []
    keys: list[Hashable] = ["score"]
    for scorer, weight in profile.scores:
        key = scorer.memo_key(pod) if scorer.scores_rows_alone else None
        if key is None:
            scorers.append((scorer, weight))
        else:
            memoised.append((scorer, weight))
            keys.append((key, weight))

    def weighted(window: NDArray[np.intp]) -> NDArray[np.int64]:
        part = np.zeros(len(window), np.int64)
        for scorer, weight in memoised:
            scores = scorer.score(pod, table, window)
            if scores is not None:
                part += scores if weight == 1 else scores * weight
        return part

    memo = table.memo(tuple(keys)) if memoised else None
    parts: list[NDArray[np.int64]] = []
    for window in windows:
        part: NDArray[np.int64] = (
            np.zeros(len(window), np.int64) if memo is None else memo.get(window, weighted)
        )
        for scorer, weight in scorers:
            if alone or scorer.scores_rows_alone:
                scores = scorer.score(pod, table, window)
                if scores is not None:
                    part += scores if weight == 1 else scores * weight
        parts.append(part)
    if alone:
        return parts[0]
    total = np.concatenate(parts)
    for scorer, weight in scorers:
        if not scorer.scores_rows_alone:
            scores = scorer.score(pod, table, rows)
            if scores is not None:
                total += scores if weight == 1 else scores * weight
    return total


def _fit_error(
    pod: PodInfo,
    table: NodeTable,
    active: list[FilterPlugin],
    results: list[FilterResult],
    nodes: NDArray[np.intp],
    filtered_out: int,
    preemption: bool,
) -> Decision:
    """The message when no node passed: every node got a verdict, from the first plugin rejecting it."""
    n = len(table)
    reasons: dict[str, int] = {}
    potential: list[NDArray[np.intp]] = []
    unresolvable = resolvable = 0
    plugins: set[str] = set()
    if filtered_out:
        reasons[FILTERED_OUT_BY_PREFILTER] = filtered_out
        unresolvable += filtered_out
    remaining = nodes
    for plugin, result in zip(active, results, strict=True):
        if result.failed is None or not len(remaining):
            continue
        hit = result.failed[remaining]
        mine = remaining[hit]
        remaining = remaining[~hit]
        if not len(mine):
            continue
        plugins.add(plugin.name)
        codes = np.zeros(len(mine), np.intp) if result.code_of is None else result.code_of(mine)
        values, counts = np.unique(codes, return_counts=True)
        for code, count in zip(values.tolist(), counts.tolist(), strict=True):
            for reason in result.reasons[code]:
                reasons[reason] = reasons.get(reason, 0) + count
        if result.unresolvable_codes is not None:  # the status differs by reason (the inter-pod plugins)
            soft = mine[~np.isin(codes, np.fromiter(result.unresolvable_codes, np.intp))]
        else:
            soft = mine[:0] if plugin.unresolvable else mine
        potential.append(soft)
        unresolvable += len(mine) - len(soft)
        resolvable += len(soft)
    post = preemption_message(pod, n, unresolvable, resolvable) if preemption else ""
    message = fit_error_message(n, reasons)
    rows = np.sort(np.concatenate(potential)) if potential else ()
    return Decision(
        node=None,
        feasible=0,
        evaluated=len(nodes) + filtered_out,
        message=with_post_filter(message, post),
        unschedulable_plugins=frozenset(plugins),
        filter_message=message,
        potential_nodes=tuple(table.name_at(int(row)) for row in rows),
        reasons=reasons,
    )
