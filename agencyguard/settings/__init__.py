"""AgencyGuard settings: read from environment variables with safe dev defaults, one module
per concern (this package's modules, in the order below).

Dev defaults (no variable set): SQLite, files under ./var, a Celery broker on the local
filesystem (no Redis). Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
ALLOWED_HOSTS and DEBUG=0.
"""

from agencyguard.settings.audit import *  # noqa: F403
from agencyguard.settings.core import *  # noqa: F403
from agencyguard.settings.env import *  # noqa: F403
from agencyguard.settings.evidence import *  # noqa: F403
from agencyguard.settings.jobs import *  # noqa: F403
from agencyguard.settings.legal import *  # noqa: F403
from agencyguard.settings.ops import *  # noqa: F403
from agencyguard.settings.passwords import *  # noqa: F403
