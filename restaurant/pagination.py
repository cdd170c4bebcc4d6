from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=2&pageSize=100`; answers `{count, next, previous, results}`.

    A `pageSize` that is not a positive whole number is refused (400); one above the
    maximum is capped to it.
    """

    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # isascii: "²".isdigit() is true, but int() refuses it.
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ValidationError({"pageSize": ["Must be a whole number from 1."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
