"""API views of merchants and their service scores, and the marketplace import (routes in merchants/urls.py)."""

from __future__ import annotations

from pathlib import Path
from tempfile import NamedTemporaryFile
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ImportStopped
from core.importing import ImportAborted, ImportReport
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from core.permissions import ModelPermissions
from core.tabular import format_of
from core.tenancy import TenantScopedQuerysetMixin
from core.values import ImportFileError
from merchants.explanation import explain
from merchants.importing import KINDS, import_kind
from merchants.models import Merchant
from merchants.selectors import day_medians, marketplace_medians, score_history, with_latest_score
from merchants.serializers import (
    ExplanationSerializer,
    MerchantSerializer,
    ScoreHistoryQuerySerializer,
    ScoreRowSerializer,
)


class MerchantPagination(CursorPagination):
    ordering = "code"  # unique, so the cursor is stable
    page_size_query_param = None  # type: ignore[assignment]  # pages of 50, no choice


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("List merchants"),
        description=_(
            "Merchants ordered by code, each with its latest service score and traffic weight, in pages of 50"
            " (follow the next link). Merchant staff see their own merchant only."
        ),
    )
)
class MerchantListView(TenantScopedQuerysetMixin, generics.ListAPIView[Merchant]):
    queryset = with_latest_score(Merchant.objects.all())
    serializer_class = MerchantSerializer
    pagination_class = MerchantPagination
    filterset_fields = ["category"]


@extend_schema_view(
    get=extend_schema(
        summary=_("One merchant"),
        description=_("A merchant with its latest service score and traffic weight."),
    )
)
class MerchantDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[Merchant]):
    queryset = with_latest_score(Merchant.objects.all())
    serializer_class = MerchantSerializer
    lookup_field = "code"


class CanViewScores(ModelPermissions):
    """Reading a merchant's score history needs the score permission, not only the merchant's."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.has_perm("merchants.view_merchantscore")


class ScoreHistoryView(TenantScopedQuerysetMixin, generics.GenericAPIView[Merchant]):
    queryset = Merchant.objects.all()
    permission_classes = [CanViewScores]
    lookup_field = "code"
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary=_("A merchant's score history"),
        description=_(
            "The merchant's latest daily scores, oldest first, each with the median service score of all"
            " merchants that day."
        ),
        parameters=[ScoreHistoryQuerySerializer],
        responses=ScoreRowSerializer(many=True),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        merchant = self.get_object()
        query = ScoreHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = score_history(merchant, query.validated_data["days"])
        medians = marketplace_medians(rows[0].day, rows[-1].day) if rows else {}
        return Response(ScoreRowSerializer(rows, many=True, context={"medians": medians}).data)


class ExplanationView(ScoreHistoryView):
    @extend_schema(
        summary=_("Why a merchant's score is what it is"),
        description=_(
            "The latest day's service score taken apart: each component's figure and points against the"
            " marketplace median's, the traffic weight it earns, and the (at most three) changes that would"
            " raise it most, computed from the scoring formula. 404 before the first scoring run. Merchant"
            " staff see their own merchant only."
        ),
        responses={200: ExplanationSerializer, 404: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        latest = score_history(self.get_object(), 1)
        if not latest:
            raise NotFound(_("This merchant has no score yet: scores are computed every night."))
        explanation = explain(latest[0], day_medians(latest[0].day))
        return Response(ExplanationSerializer(explanation).data)


class CanImport(BasePermission):
    """Loading a marketplace's files is for holders of crm.import_marketplace (supervisors)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("crm.import_marketplace"))


class ImportView(APIView):
    permission_classes = [CanImport]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary=_("Import a file of consumers, merchants, orders, reviews or memberships"),
        description=_(
            "A CSV or JSONL file (multipart field file) of one kind, in the format of docs/import-formats.md; the"
            " format comes from the file name's extension unless the query parameter format says csv or jsonl."
            " Rows are upserted by their external id, so importing a file again changes nothing. The answer"
            " counts the rows created, updated and unchanged and lists every rejected row by line and field"
            " (200); a file that cannot be read at all is 400 `invalid` naming `file`; a batch the database"
            " refused is 400 `import_stopped`, its `errors` the report of the batches loaded before it. Needs"
            " permission to import (supervisors)."
        ),
        request={"multipart/form-data": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, kind: str) -> Response:
        upload = request.FILES.get("file")
        if kind not in KINDS:
            raise NotFound(_("Unknown kind; one of %(kinds)s.") % {"kinds": ", ".join(KINDS)})
        if upload is None:
            raise ValidationError({"file": [_("Send the file as the multipart field file.")]})
        fmt = request.query_params.get("format") or format_of(Path(upload.name or ""))
        report = _import_upload(kind, upload, fmt)
        return Response(report.as_dict())


def _import_upload(kind: str, upload: UploadedFile, fmt: str | None) -> ImportReport:
    """The upload imported from a temporary file; a file that cannot be read is 400, a refused batch 400 too."""
    with NamedTemporaryFile(suffix=".upload") as file:
        for chunk in upload.chunks():
            file.write(chunk)
        file.flush()
        try:
            return import_kind(kind, Path(file.name), fmt=fmt or "unknown")
        except (ImportFileError, ValueError) as error:
            raise ValidationError({"file": [_file_error(error, fmt or upload.name or "")]}) from error
        except ImportAborted as aborted:
            raise ImportStopped(str(aborted), aborted.report.as_dict()) from aborted


def _file_error(error: Exception, named: str) -> str:
    if isinstance(error, ImportFileError):
        return str(error)
    return _("Cannot tell the format of %(value)s; name the file .csv or .jsonl, or pass format.") % {"value": named}
