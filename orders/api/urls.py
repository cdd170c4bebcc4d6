from django.urls import path

from . import operations, views

app_name = "api"

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("tables", views.TableListView.as_view(), name="table-list"),
    path("tables/<uuid:table_id>/sessions", views.TableSessionOpenView.as_view(), name="table-session-open"),
    path("table-sessions", views.TableSessionListView.as_view(), name="table-session-list"),
    path("table-sessions/<uuid:session_id>", views.TableSessionDetailView.as_view(), name="table-session-detail"),
    path("table-sessions/<uuid:session_id>/close", views.TableSessionCloseView.as_view(), name="table-session-close"),
    path("menu-items", views.MenuItemListView.as_view(), name="menu-item-list"),
    path("menu-items/<uuid:menu_item_id>/availability", views.MenuItemAvailabilityView.as_view(), name="menu-item-availability"),
    path("orders", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<uuid:order_id>/confirm", views.OrderConfirmView.as_view(), name="order-confirm"),
    path("orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<uuid:order_id>/bump", views.OrderBumpView.as_view(), name="order-bump"),
    path("orders/<uuid:order_id>/recall", views.OrderRecallView.as_view(), name="order-recall"),
    path("orders/<uuid:order_id>/fire", views.OrderFireView.as_view(), name="order-fire"),
    path("orders/<uuid:order_id>/priority", views.OrderPriorityView.as_view(), name="order-priority"),
    path("orders/<uuid:order_id>/call", operations.OrderCallView.as_view(), name="order-call"),
    path("orders/<uuid:order_id>/history", operations.OrderHistoryView.as_view(), name="order-history"),
    path("orders/<uuid:order_id>/items", views.OrderItemCreateView.as_view(), name="order-item-create"),
    path("orders/<uuid:order_id>/items/<uuid:item_id>", views.OrderItemDetailView.as_view(), name="order-item-detail"),
    path("orders/<uuid:order_id>/items/<uuid:item_id>/status", views.OrderItemStatusView.as_view(), name="order-item-status"),
    path("orders/<uuid:order_id>/items/<uuid:item_id>/acknowledge-allergy", views.OrderItemAcknowledgeAllergyView.as_view(), name="order-item-acknowledge-allergy"),
    path("reports/kitchen", operations.KitchenTimesReportView.as_view(), name="report-kitchen-times"),
    path("kitchen/board", views.KitchenBoardView.as_view(), name="kitchen-board"),
    path("kitchen/tickets/<uuid:order_id>", views.KitchenTicketView.as_view(), name="kitchen-ticket"),
]
