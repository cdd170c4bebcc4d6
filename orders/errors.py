"""Domain errors raised by services and selectors.

The API's exception handler (`restaurant.problems`) turns each into RFC 9457 problem
details; the admin shows its message. Views catch none of them.
"""


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    """Missing, or belonging to another restaurant: callers cannot tell the two apart."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Not allowed for your role"


class IllegalTransition(DomainError):
    status = 409
    slug = "illegal-transition"
    title = "Illegal state transition"

    def __init__(self, *, kind: str, current: str, target: str, reason: str = ""):
        detail = f"Cannot move {kind} from {current} to {target}"
        detail += f": {reason}." if reason else "."
        super().__init__(detail)
        self.current = current
        self.target = target


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class InvalidInput(DomainError):
    status = 422
    slug = "unprocessable"
    title = "Request cannot be processed"


class Unauthenticated(DomainError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"
