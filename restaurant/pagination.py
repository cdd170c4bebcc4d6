from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=2&pageSize=100`; answers `{count, next, previous, results}`."""

    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200
