"""The MVCC state machine of kubemu's etcd-like store: pure, deterministic, replicated by applying a log.

Modules, each one concept:

- ``types``: etcd v3's requests, responses, ``KeyValue`` and ``Event`` as frozen values;
- ``errors``: typed refusals carrying etcd's messages and gRPC codes;
- ``validation``: checks a request needs no state for (empty keys, sizes, txn shape);
- ``store``: ``MvccStore``, the state machine (``apply(request) -> response``), snapshots;
- ``index``: the ordered key set range reads walk;
- ``lessor``: the lease table;
- ``watch``: the history of changes watchers resume from.

It imports nothing else of kubemu, reads no clock and does no I/O; replication (PySyncObj) and the client
port wrap it.
"""
