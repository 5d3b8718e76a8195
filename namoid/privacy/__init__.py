"""Personal data: consent records, export, erasure (DESIGN.md §6, §8)."""
