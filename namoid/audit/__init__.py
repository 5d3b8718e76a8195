"""The audit log (DESIGN.md §5): ``record()`` in the same transaction as the change."""

from namoid.audit.record import Actor, RequestMeta, record, request_meta_var

__all__ = ["Actor", "RequestMeta", "record", "request_meta_var"]
