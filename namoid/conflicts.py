"""A refusal because of what already is, not because the request is malformed.

Service functions raise ``StateConflict`` (a ``ValueError``, so the CLI reports it like any other
refusal) for a duplicate or a change the current state does not allow; the admin API answers it
with 409 Conflict (RFC 9110 §15.5.10), keeping 422 for input that is wrong in itself.
"""


class StateConflict(ValueError):
    pass
