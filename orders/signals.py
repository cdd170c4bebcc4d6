"""Signals `orders` sends for other apps to act on. It knows nothing of who listens."""

from django.dispatch import Signal

# A user's tokens were revoked (logout). Arguments: user_id, session_id (the token family's
# id, or None for all of the user's sessions).
tokens_revoked = Signal()
