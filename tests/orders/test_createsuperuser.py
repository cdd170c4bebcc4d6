"""The first superuser of a deployment, created non-interactively as Django documents:
`createsuperuser --noinput` with `DJANGO_SUPERUSER_EMAIL` and `DJANGO_SUPERUSER_PASSWORD`
(README, Deployment)."""

import pytest
from django.conf import global_settings

from orders.models import Role, User

from ..live import manage, server_env

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_createsuperuser_noinput_reads_the_django_superuser_variables(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the command's hasher
    env = server_env(DJANGO_SUPERUSER_EMAIL="owner@example.com", DJANGO_SUPERUSER_PASSWORD="Quartz-Lantern-73")
    result = manage("createsuperuser", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    user = User.objects.get(email="owner@example.com")
    assert user.is_superuser and user.is_staff and user.role == Role.MANAGER
    assert user.check_password("Quartz-Lantern-73")

    # A second run for the same email says so, without a traceback.
    again = manage("createsuperuser", "--noinput", env=env)
    assert again.returncode != 0 and "already" in again.stderr.lower() and "Traceback" not in again.stderr
