from pathlib import Path

from django.http import HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from orders import kitchen
from orders.admin import site as admin_site

from . import health, problems

_FAVICON = (Path(__file__).resolve().parent / "static" / "favicon.ico").read_bytes()


def favicon(request):
    """Browsers ask every page's host for /favicon.ico: answer it (a 404 is a warning per page)."""
    return HttpResponse(_FAVICON, content_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs/", permanent=False)),
    path("admin/", admin_site.urls),
    path("api/v1/", include("orders.api.urls")),
    path("api/v1/", include("realtime.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("kitchen/", kitchen.board, name="kitchen-board"),
    path("kitchen/login/", kitchen.KitchenLoginView.as_view(), name="kitchen-login"),
    path("kitchen/logout/", kitchen.KitchenLogoutView.as_view(), name="kitchen-logout"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("problems/<slug:slug>", problems.problem_type_page, name="problem-type"),
    # Unknown API paths (a malformed id included) answer problem details, DEBUG or not.
    re_path(r"^api/", csrf_exempt(problems.handler404)),
]

handler400 = problems.handler400
handler403 = problems.handler403
handler404 = problems.handler404
handler500 = problems.handler500
