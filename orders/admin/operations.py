"""Admin pages of kitchen operations (issue 15): kitchen times with charts, live screens.

Managers see their restaurant; a superuser picks one (`?restaurant=<id>`). The numbers come
from the same functions as the API's (`orders.reports`, `realtime.screens`)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from .. import reports
from ..api.operations import CSV_COLUMNS, KitchenTimesCSVRenderer, KitchenTimesQuerySerializer
from ..models import Restaurant
from .charts import kitchen_times_svg
from .site import is_restaurant_manager


def restaurant_for(request) -> Restaurant:
    user = request.user
    if user.is_superuser:
        chosen = request.GET.get("restaurant")
        restaurants = Restaurant.objects.all()
        restaurant = restaurants.filter(pk=chosen).first() if chosen else None
        return restaurant or restaurants.first()
    if not is_restaurant_manager(user):
        raise PermissionDenied
    return user.restaurant


def kitchen_times_view(site, request):
    restaurant = restaurant_for(request)
    if restaurant is None:
        raise PermissionDenied
    params = {k: v for k, v in request.GET.items() if k in ("from", "to", "station", "groupBy") and v}
    query = KitchenTimesQuerySerializer(data=params, context={"restaurant": restaurant})
    rows, errors = [], None
    if query.is_valid():
        data = query.validated_data
        rows = reports.kitchen_times(
            restaurant=restaurant, group_by=data["groupBy"], station=data.get("station"),
            start=query.instant(data.get("from")), end=query.instant(data.get("to")),
        )
    else:
        errors = query.errors
    if request.GET.get("format") == "csv" and errors is None:
        body = KitchenTimesCSVRenderer().render({"rows": rows})
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="kitchen-times.csv"'
        return response
    context = {
        **site.each_context(request), "title": f"Kitchen times · {restaurant.name}",
        "groups": reports.GROUPS, "rows": rows, "errors": errors, "columns": CSV_COLUMNS,
        "chart": kitchen_times_svg(rows), "restaurant": restaurant,
        "csv_query": request.GET.urlencode(), "report_url": reverse("admin:kitchen-times"),
    }
    return TemplateResponse(request, "admin/operations/kitchen_times.html", context)


# Live: the page reloads itself this often (no script needed).
SCREENS_REFRESH_SECONDS = 5


def screens_view(site, request):
    from realtime.screens import screen_rows

    restaurant = restaurant_for(request)
    if restaurant is None:
        raise PermissionDenied
    context = {
        **site.each_context(request), "title": f"Kitchen screens · {restaurant.name}",
        "rows": screen_rows(restaurant.pk), "restaurant": restaurant,
        "refresh_seconds": SCREENS_REFRESH_SECONDS,
        "offline_seconds": settings.SCREEN_OFFLINE_SECONDS,
    }
    return TemplateResponse(request, "admin/operations/screens.html", context)
