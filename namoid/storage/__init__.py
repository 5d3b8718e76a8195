"""Durable state: async engine, models, repositories and migrations."""
