"""The one exception of the smoke run that is neither the user's fault nor the target's."""
from __future__ import annotations


class SmokeFailure(RuntimeError):
    """The run itself failed (the target's forward raised, the DDP workers died): exit 1."""
