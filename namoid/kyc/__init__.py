"""Aadhaar Paperless Offline e-KYC: verify in memory, keep a masked record (issue 14)."""
