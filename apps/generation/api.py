"""Generation jobs over REST (read only: jobs are created and moved by the pipeline)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import ApiBase, request_workspace
from apps.accounts.roles import CAN_VIEW
from apps.briefs.serializers import JobDetailSerializer
from apps.generation.selectors import job_get


class JobDetailApi(ApiBase, APIView):
    read_scope = "briefs:read"

    def get(self, request: Request, job_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(JobDetailSerializer(job_get(workspace=workspace, job_id=job_id)).data)
