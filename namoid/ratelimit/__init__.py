"""Rate limits (DESIGN.md §5b): the limiter, its named policies and the 429 answers."""

from namoid.ratelimit.limiter import Decision, Limiter

__all__ = ["Decision", "Limiter"]
