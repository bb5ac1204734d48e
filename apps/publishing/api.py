"""Publications over REST: where approved content went, with the targets' ids and links."""

from __future__ import annotations

from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api_auth import request_workspace
from apps.accounts.roles import CAN_VIEW
from apps.briefs.serializers import PublicationFilterSerializer, PublicationSerializer
from apps.publishing.selectors import publication_list


class PublicationListApi(GenericAPIView):
    def get(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        filters = PublicationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        brief_id = filters.validated_data.get("brief")
        page = self.paginate_queryset(publication_list(workspace=workspace, brief_id=brief_id))
        return self.get_paginated_response(PublicationSerializer(page, many=True).data)
