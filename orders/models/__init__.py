"""The domain's models, one module per area; every name is importable from `orders.models`."""

from .vocabulary import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .accounts import *  # noqa: F401,F403
from .floor import *  # noqa: F401,F403
from .menu import *  # noqa: F401,F403
from .ordering import *  # noqa: F401,F403
from .idempotency import *  # noqa: F401,F403
from .vocabulary import _ALLERGEN_ORDER  # noqa: F401
from .base import _status_check  # noqa: F401

# Models of this app kept beside the code that writes them.
from ..history import HistoryEntry  # noqa: E402,F401
from ..screens import Screen, ScreenDelivery  # noqa: E402,F401
