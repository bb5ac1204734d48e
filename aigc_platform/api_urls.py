"""REST API v1 (mounted at /api/v1/), and its OpenAPI 3 schema with Swagger UI and Redoc."""

from urllib.parse import urlsplit

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import URLPattern, path
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.views import APIView

from apps.accounts import api as accounts
from apps.apikeys import api as apikeys
from apps.briefs import api as briefs
from apps.datasets import api as datasets
from apps.evaluation import api as evaluation
from apps.generation import api as generation
from apps.generation import registry_api as registry
from apps.integrations import api as integrations
from apps.publishing import api as publishing
from apps.reviews import api as reviews
from apps.workflow import api as workflow

app_name = "api"

SCHEMA_SETTINGS = {
    "TITLE": "AIGC content platform API",
    "DESCRIPTION": (
        "Briefs in, published content out. Authenticate with `Authorization: Bearer <api key>` "
        "(keys are created in the dashboard, scoped, shown once) or a dashboard session. "
        "Lists are cursor-paginated (`next`/`previous` links). Errors are "
        "`{\"detail\": ...}` or, for invalid input, one list of messages per field. "
        "Outbound webhooks and inbound hooks use the Standard Webhooks signature scheme; "
        "see docs/integrations.md."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",  # 3.1 documents outbound webhooks
    "WEBHOOKS": "apps.integrations.api.EVENT_WEBHOOKS",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # What Django's converters match: anything else is a 404 that matches no route.
    "PATH_CONVERTER_OVERRIDES": {
        "int": {"type": "integer", "minimum": 0},
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    },
}


def bundle_origin(url: str) -> str:
    """Where a docs bundle comes from: its scheme and host, or 'self' for a path of ours."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else SELF


# The Swagger and Redoc pages run drf-spectacular's bundles from where SWAGGER_UI_DIST and
# REDOC_DIST say (a CDN by default), which inject their styles inline and load web fonts;
# Redoc searches in a worker. These two pages only get that wider policy.
DOCS_CSP = {
    "script-src": [bundle_origin(spectacular_settings.SWAGGER_UI_DIST),
                   bundle_origin(spectacular_settings.REDOC_DIST)],
    "style-src": [UNSAFE_INLINE, bundle_origin(spectacular_settings.SWAGGER_UI_DIST),
                  "https://fonts.googleapis.com"],
    "font-src": ["https://fonts.gstatic.com"],
    "worker-src": ["blob:"],
}


class SchemaApi(SpectacularAPIView):
    schema = None  # the schema endpoint is not part of the API it describes


class SwaggerApi(SpectacularSwaggerSplitView):  # its script a file of ours, not inline
    schema = None


class RedocApi(SpectacularRedocView):
    schema = None


def _actions(prefix: str, name: str, **actions: type[APIView]) -> list[URLPattern]:
    """One route per action under `prefix`: `<prefix>/<action>/`, named `<name>-<action>`
    (an action's underscores are hyphens in both)."""
    return [path(f"{prefix}/{action.replace('_', '-')}/", view.as_view(),
                 name=f"{name}-{action.replace('_', '-')}") for action, view in actions.items()]


def _crud(prefix: str, name: str, listing: type[APIView], detail: type[APIView],
          **actions: type[APIView]) -> list[URLPattern]:
    return [path(f"{prefix}/", listing.as_view(), name=f"{name}-list"),
            path(f"{prefix}/<int:pk>/", detail.as_view(), name=f"{name}-detail"),
            *_actions(f"{prefix}/<int:pk>", name, **actions)]


urlpatterns = [
    path("schema/", SchemaApi.as_view(custom_settings=SCHEMA_SETTINGS), name="schema"),
    path("schema/swagger/", csp_update(DOCS_CSP)(SwaggerApi.as_view(url_name="api:schema")),
         name="swagger"),
    path("schema/redoc/", csp_update(DOCS_CSP)(RedocApi.as_view(url_name="api:schema")),
         name="redoc"),
    path("briefs/", workflow.BriefListCreateApi.as_view(), name="brief-list"),
    path("briefs/import/", integrations.BriefImportApi.as_view(), name="brief-import"),
    path("briefs/<int:brief_id>/", workflow.BriefDetailApi.as_view(), name="brief-detail"),
    *_actions("briefs/<int:brief_id>", "brief", submit=workflow.BriefSubmitApi,
              cancel=workflow.BriefCancelApi, regenerate=workflow.BriefRegenerateApi,
              approve=workflow.BriefApproveApi, reject=workflow.BriefRejectApi,
              request_changes=workflow.BriefRequestChangesApi, publish=workflow.BriefPublishApi,
              scorecards=evaluation.BriefScoreCardsApi, lineage=workflow.BriefLineageApi),
    path("jobs/", generation.JobListApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", generation.JobDetailApi.as_view(), name="job-detail"),
    *_actions("jobs/<int:job_id>", "job", cancel=workflow.JobCancelApi),
    path("usage/", generation.UsageApi.as_view(), name="usage"),
    *_crud("training-runs", "training-run", generation.TrainingRunListApi,
           generation.TrainingRunDetailApi, cancel=generation.TrainingRunCancelApi),
    *_crud("datasets", "dataset", datasets.DatasetListApi, datasets.DatasetDetailApi,
           imports=datasets.DatasetImportApi, build=datasets.DatasetBuildApi),
    *_crud("dataset-versions", "dataset-version", datasets.DatasetVersionListApi,
           datasets.DatasetVersionDetailApi, train=datasets.DatasetVersionTrainApi,
           cancel=datasets.DatasetVersionCancelApi),
    path("model-versions/compare/", registry.ModelVersionCompareApi.as_view(),
         name="model-version-compare"),
    path("model-versions/comparison/", workflow.ModelVersionComparisonApi.as_view(),
         name="model-version-comparison"),
    *_crud("model-versions", "model-version", registry.ModelVersionListApi,
           registry.ModelVersionDetailApi, promote=registry.ModelVersionPromoteApi,
           archive=registry.ModelVersionArchiveApi, evaluate=registry.ModelVersionEvaluateApi),
    *_crud("drafts", "draft", evaluation.DraftListApi, evaluation.DraftDetailApi),
    *_crud("evaluations", "evaluation", evaluation.EvaluationListApi,
           evaluation.EvaluationDetailApi),
    *_crud("model-profiles", "model-profile", generation.ModelProfileListApi,
           generation.ModelProfileDetailApi, rollback=registry.ModelProfileRollbackApi,
           candidate=registry.ModelProfileCandidateApi),
    *_crud("content-types", "content-type", briefs.ContentTypeListApi,
           briefs.ContentTypeDetailApi),
    *_crud("style-guides", "style-guide", briefs.StyleGuideListApi, briefs.StyleGuideDetailApi),
    path("reviews/", reviews.ReviewListApi.as_view(), name="review-list"),
    *_crud("publications", "publication", publishing.PublicationListApi,
           publishing.PublicationDetailApi, retry=publishing.PublicationRetryApi,
           reschedule=publishing.PublicationRescheduleApi, cancel=publishing.PublicationCancelApi,
           withdraw=publishing.PublicationWithdrawApi, preview=publishing.PublicationPreviewApi),
    *_crud("targets", "target", publishing.TargetListCreateApi, publishing.TargetDetailApi,
           test_connection=publishing.TargetTestConnectionApi),
    path("hooks/<slug:slug>/", integrations.InboundHookApi.as_view(), name="hook-receive"),
    *_crud("webhook-endpoints", "endpoint", integrations.EndpointListCreateApi,
           integrations.EndpointDetailApi, rotate_secret=integrations.EndpointRotateSecretApi),
    *_crud("webhook-subscriptions", "subscription", integrations.SubscriptionListCreateApi,
           integrations.SubscriptionDetailApi, enable=integrations.SubscriptionEnableApi),
    *_crud("feeds", "feed", integrations.FeedListCreateApi, integrations.FeedDetailApi),
    *_crud("recurring-briefs", "recurring-brief", integrations.RecurringBriefListCreateApi,
           integrations.RecurringBriefDetailApi),
    *_crud("members", "member", accounts.MemberListApi, accounts.MemberDetailApi),
    *_crud("api-keys", "api-key", apikeys.ApiKeyListApi, apikeys.ApiKeyDetailApi,
           revoke=apikeys.ApiKeyRevokeApi),
    *_crud("webhook-deliveries", "delivery", integrations.DeliveryListApi,
           integrations.DeliveryDetailApi, redeliver=integrations.DeliveryRedeliverApi),
]
