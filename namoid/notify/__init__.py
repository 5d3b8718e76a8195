"""Email and SMS delivery (DESIGN.md §6, §8): sender protocols, their implementations, the outbox."""
