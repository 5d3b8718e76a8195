"""Security events (DESIGN.md §5): raised with the change, delivered as SETs by the worker."""

from namoid.events.catalog import opaque_subject, user_subject
from namoid.events.raising import raise_event

__all__ = ["opaque_subject", "raise_event", "user_subject"]
