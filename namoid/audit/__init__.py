"""The audit log (DESIGN.md §5): ``record()`` in the same transaction as the change."""

from namoid.audit.record import WORKER, Actor, RequestMeta, record, request_meta_var

__all__ = ["WORKER", "Actor", "RequestMeta", "record", "request_meta_var"]
