from __future__ import annotations

import io
from typing import Any

from django.contrib.auth import authenticate
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from jobs.models import Job, JobStatus
from musicsite.api import PagePagination, json_chunks
from musicsite.parsers import JSONParser
from profiles import selectors, services, sign_in
from profiles.api.serializers import (
    FeedbackRequestSerializer,
    FeedbackSerializer,
    ImportJobSerializer,
    ImportReportSerializer,
    ImportRequestSerializer,
    ListenBatchSerializer,
    ListenRangeSerializer,
    ListenSerializer,
    ListenTallySerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from profiles.importers.hetrec import read_hetrec_artists
from profiles.importers.records import ImportFormatError
from profiles.importers.rules import MAX_LISTENS_PER_REQUEST
from profiles.importing import IMPORT_JOB_KIND, import_listens, submit_import
from profiles.listen_input import (
    MAX_ID,
    ListenProblems,
    Problem,
    read_api_listens,
    submitted_track_ids,
)
from profiles.models import Feedback

# Larger uploads (past about 15,000 lines, a couple of seconds' work) are imported by a job
# rather than within the request.
SYNC_IMPORT_MAX_BYTES = 2 * 2**20


class TokenAnswerView(APIView):
    """Sign-in attempts, throttled per address; answers carry a token, which no cache
    along the way may keep."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class AuthView(TokenAnswerView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []


class RegisterView(AuthView):
    @extend_schema(request=RegisterSerializer, responses={201: RegisteredSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, token = services.register_user(**serializer.validated_data)
        body = {"id": user.pk, "username": user.username, "token": token}
        return Response(RegisteredSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenView(AuthView):
    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sign_in.check_not_locked(serializer.validated_data["username"])
        user = authenticate(request=request._request, **serializer.validated_data)
        if user is None:
            message = "Unable to log in with these credentials."
            raise ValidationError({"non_field_errors": [message]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class PasswordView(TokenAnswerView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenSerializer},
        description="Change the password. The old token stops working: the answer holds "
        "the new one (other devices sign in again).",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.change_password(
            user=request.user,
            current=serializer.validated_data["current_password"],
            new=serializer.validated_data["new_password"],
        )
        return Response({"token": token})


class TokenRevokeView(APIView):
    @extend_schema(
        request=None,
        responses={204: None},
        description="Sign out everywhere: the token stops working; sign in again at "
        "`POST /api/v1/auth/token/` for a new one.",
    )
    def delete(self, request: Request) -> Response:
        services.revoke_token(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(services.profile_shown(request.user)).data)

    @extend_schema(
        request=MeUpdateSerializer,
        responses={200: MeSerializer},
        description="Change preferences; `null` removes one. Once a taste model is trained, "
        "`taste` is recomputed at once by the active model.",
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.update_preferences(
            user=request.user, changes=serializer.validated_data["preferences"]
        )
        return Response(MeSerializer(profile).data)

    @extend_schema(responses={204: OpenApiResponse(description="Account and data deleted.")})
    def delete(self, request: Request) -> Response:
        services.delete_account(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportView(APIView):
    @extend_schema(
        responses={200: OpenApiResponse(description="Every stored datum of this user (JSON).")}
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        data = selectors.export_user_data(user=request.user)
        chunks = (chunk.encode() for chunk in json_chunks(data))
        response = StreamingHttpResponse(chunks, content_type="application/json")
        filename = f"musicsite-export-{request.user.username}.json"
        # RFC 6266: an ASCII fallback and the UTF-8 name, whatever the user name holds.
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response


# --- Listening history and feedback ------------------------------------------------------


def problems_body(problems: list[Problem]) -> dict[str, Any]:
    """``{"listens": {"<index>": {"<field>": ["message"]}}}``: every bad field of every item."""
    items: dict[str, dict[str, list[str]]] = {}
    for problem in problems:
        items.setdefault(str(problem.index), {}).setdefault(problem.field, []).append(
            problem.message
        )
    return {"listens": items}


class ListensView(APIView):
    parser_classes = [JSONParser]
    pagination_class = PagePagination

    @extend_schema(
        parameters=[ListenRangeSerializer],
        responses={200: ListenSerializer(many=True)},
        description="The person's own listens, newest first.",
    )
    def get(self, request: Request) -> Response:
        query = ListenRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        listens = selectors.listens_of(user=request.user, **query.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(listens, request, view=self)
        return paginator.get_paginated_response(ListenSerializer(page, many=True).data)

    @extend_schema(
        request=ListenBatchSerializer,
        responses={201: ListenTallySerializer},
        description="Up to 1000 listens, stored all-or-nothing and idempotently on "
        "(user, track, listened_at). A 400 names each offending item by index and field: "
        '`{"listens": {"3": {"listened_at": ["..."]}}}`; nothing is stored then.',
    )
    def post(self, request: Request) -> Response:
        data = request.data
        items = data.get("listens") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValidationError({"listens": ["A non-empty list of listens is required."]})
        if set(data) != {"listens"}:
            message = "Unknown field; this request takes: listens."
            raise ValidationError({name: [message] for name in sorted(set(data) - {"listens"})})
        if len(items) > MAX_LISTENS_PER_REQUEST:
            message = f"At most {MAX_LISTENS_PER_REQUEST} listens per request."
            raise ValidationError({"listens": [message]})
        try:
            listens = read_api_listens(items, now=timezone.now(), body_bytes=len(request.body))
        except ListenProblems as exc:
            # Name unknown tracks in the same answer, so a client fixes everything in one go.
            unknown = services.unknown_track_problems(request.user, submitted_track_ids(items))
            raise ValidationError(problems_body(exc.problems + unknown)) from None
        try:
            tally = services.record_listens(user=request.user, listens=listens, source="api")
        except ListenProblems as exc:
            raise ValidationError(problems_body(exc.problems)) from None
        body = {"accepted": tally.accepted, "duplicates": tally.duplicates}
        return Response(body, status=status.HTTP_201_CREATED)


def _content_length(request: Request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class ImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            201: ImportReportSerializer,
            202: OpenApiResponse(
                ImportJobSerializer,
                description=f"Files over {SYNC_IMPORT_MAX_BYTES // 2**20} MiB are imported "
                "by a background job; poll its url.",
            ),
        },
        description="Import a listening-history export. Re-importing a file adds nothing.",
    )
    def post(self, request: Request) -> Response:
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload, artists = data["file"], data.get("artists")
        if upload.size > SYNC_IMPORT_MAX_BYTES:
            job = submit_import(
                user=request.user,
                format_name=data["format"],
                upload=upload,
                file_user=data.get("file_user") or "",
                artists=artists,
            )
            return Response(_job_body(request, job), status=status.HTTP_202_ACCEPTED)
        options = {"file_user": data.get("file_user")} if data.get("file_user") else {}
        if artists is not None:
            options["artist_names"] = read_hetrec_artists(
                io.TextIOWrapper(artists, encoding="utf-8", errors="replace")
            )
        try:
            report = import_listens(
                user=request.user,
                format_name=data["format"],
                stream=upload.file,
                total_bytes=upload.size,
                options=options,
            )
        except ImportFormatError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)


def _job_body(request: Request, job: Job) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("listens-import-job", args=[job.pk]))
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error": job.error,
        "result": job.result if job.status == JobStatus.SUCCEEDED else None,
        "url": url,
    }


class ImportJobView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("job_id", int, OpenApiParameter.PATH)],
        responses={200: ImportJobSerializer},
        description="An import job of yours.",
    )
    def get(self, request: Request, job_id: str) -> Response:
        # The route takes any text, so that a malformed id gets this JSON 404 too.
        if not job_id.isdigit() or int(job_id) > MAX_ID:
            raise NotFound()
        job = get_object_or_404(Job, pk=int(job_id), owner=request.user, kind=IMPORT_JOB_KIND)
        return Response(_job_body(request, job))


class FeedbackView(APIView):
    parser_classes = [JSONParser]
    pagination_class = PagePagination

    @extend_schema(
        responses={200: FeedbackSerializer(many=True)},
        description="The person's current loves and hates.",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        feedback = Feedback.objects.filter(user=request.user).order_by("-updated_at", "-id")
        page = paginator.paginate_queryset(feedback, request, view=self)
        rows = [{"track": f.track_id, "score": f.score, "updated_at": f.updated_at} for f in page]
        return paginator.get_paginated_response(FeedbackSerializer(rows, many=True).data)

    @extend_schema(
        request=FeedbackRequestSerializer,
        responses={200: FeedbackSerializer},
        description="Love (1), hate (-1) or clear (0) a track; every change is kept.",
    )
    def post(self, request: Request) -> Response:
        serializer = FeedbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        track_id, score = serializer.validated_data["track"], serializer.validated_data["score"]
        feedback = services.set_feedback(user=request.user, track_id=track_id, score=score)
        body = {
            "track": track_id,
            "score": score,
            "updated_at": feedback.updated_at if feedback else timezone.now(),
        }
        return Response(FeedbackSerializer(body).data)
