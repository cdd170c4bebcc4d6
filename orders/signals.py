"""Signals `orders` sends for other apps to act on. It knows nothing of who listens."""

from django.dispatch import Signal

# A user's tokens were revoked (logout). Arguments: user_id, session_id (the token family's
# id, or None for all of the user's sessions).
tokens_revoked = Signal()

# A committed change to a user that the tokens issued to them no longer tell (orders.access):
# sent once the change is committed. Arguments: user_id; ended: why their access ended
# ("Account changed", "Password changed", "Account deleted"), or None when only what their
# tokens carry changed (role, name, email) and their access goes on.
access_changed = Signal()
