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


class ItemUnavailable(DomainError):
    """The dish (or a chosen option) is 86'd, or fewer portions are left than asked for."""

    status = 409
    slug = "item-unavailable"
    title = "Item unavailable"


class CourseHeld(IllegalTransition):
    """The item's course has not been fired: the kitchen may not start it yet."""

    slug = "course-held"
    title = "Course held"


class AllergyUnacknowledged(IllegalTransition):
    """The guest declared allergies for the item and no cook has acknowledged them yet."""

    slug = "allergy-unacknowledged"
    title = "Allergy not acknowledged"


class OrderLimitExceeded(DomainError):
    """The change would take an order past a bound every screen must still be able to show
    (lines per order, order total)."""

    status = 422
    slug = "order-limit-exceeded"
    title = "Order limit exceeded"


class ServiceUnavailable(DomainError):
    """A service the answer needs (the presence cache) is down: try again shortly."""

    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"
