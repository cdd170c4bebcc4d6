"""Every state change of the ordering domain, in one place: this package.

Views, serializers, the admin and management commands call these functions; none of them
re-implements a rule. Each takes the acting user, runs in a transaction and locks the rows it
reads before writing them, so that concurrent requests serialise instead of racing. One
module per area; every function is importable from `orders.services`.
"""

from .rules import *  # noqa: F401,F403
from .floor import *  # noqa: F401,F403
from .menu import *  # noqa: F401,F403
from .courses import *  # noqa: F401,F403
from .items import *  # noqa: F401,F403
from .ordering import *  # noqa: F401,F403
