"""The exchange bank's feed for partner agencies: GET /api/exchange/bank/ (docs/exchange.md).

Not a member API: the caller is a partner, authenticated by the API key this agency issued
to it (`Authorization: Bearer agx_...`), and sees only the bank of the agency that issued
the key. Each page is the exact bytes signed with the partner's signing key, the signature
in the `X-AgencyGuard-Signature` header. Throttled per partner key ("exchange" rate)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from cases.matching.exchange_format import FORMAT, SIGNATURE_HEADER
from cases.matching.models import ExchangePartner
from cases.matching.services.bank import PAGE_SIZE, BankError, bank_page
from cases.matching.services.exchange import partner_authenticate


class PartnerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <partner API key>`; anything else is not this scheme."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ExchangePartner] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send one partner API key.")
        partner = partner_authenticate(api_key=parts[1].decode("latin-1"))
        if partner is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked partner API key.")
        return AnonymousUser(), partner

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="exchange"'


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    """The partner key in the OpenAPI schema (drf-spectacular finds it by subclassing)."""

    target_class = PartnerKeyAuthentication
    name = "partnerKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An exchange partner's API key (agx_...), issued by the agency.",
        }


class IsExchangePartner(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ExchangePartner)


class ExchangeThrottle(SimpleRateThrottle):
    """Each partner key on its own budget; the rate is read per request, as the kernel's
    throttles do (cases.kernel.throttling), so a changed setting applies at once."""

    scope = "exchange"

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, ExchangePartner):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise BankError(f"{name} must be a whole number.")
    return int(raw)


class ExchangeBankView(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [IsExchangePartner]
    throttle_classes = [ExchangeThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the feed does not have is a 405 whoever asks (DRF would authenticate first
        # and answer 401): the answer tells nothing about keys.
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="exchange_bank",
        summary="A page of the agency's bank of confirmed fakes (partners only)",
        description=(
            f"Format `{FORMAT}` (docs/exchange.md). Entries after `cursor` in the agency's "
            "change sequence, oldest first: `add` (sha256, md5, pdq, vpdq: a video's frames as "
            "python-threatexchange VpdqCompactFeature strings, labels) or "
            "`delete` (consent withdrawn, verdict reversed). Ask again with `next_cursor` "
            f"while `has_more`. The `{SIGNATURE_HEADER}` header is `sha256=` and the "
            "HMAC-SHA256 of the exact response body under the partner's signing key. "
            "Authenticate with `Authorization: Bearer <partner API key>`."
        ),
        parameters=[
            OpenApiParameter(
                "cursor", OpenApiTypes.INT, description="Last seq already read (0 at first)."
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Entries per page, 1 to 1000."),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="A signed page."),
            400: OpenApiResponse(description="A bad cursor or limit."),
            401: OpenApiResponse(description="No or an unknown partner key."),
        },
        tags=["exchange"],
    )
    def get(self, request: Request) -> HttpResponse | Response:
        partner = request.auth
        if not isinstance(partner, ExchangePartner):  # IsExchangePartner refused it already
            raise exceptions.NotAuthenticated()
        try:
            cursor = _int_param(request, "cursor", 0)
            limit = _int_param(request, "limit", PAGE_SIZE)
            body, signature = bank_page(partner=partner, cursor=cursor, limit=limit)
        except BankError as exc:
            return Response({"detail": str(exc)}, status=400)
        response = HttpResponse(body, content_type="application/json")
        response[SIGNATURE_HEADER] = signature
        response["Cache-Control"] = "no-store"
        return response
