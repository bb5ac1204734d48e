"""The dataset and model-registry pages, included in the dashboard's URLs (so their names
are the dashboard's: `dashboard:datasets`, ...)."""

from django.urls import path

from apps.datasets import views

urlpatterns = [
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/<int:dataset_id>/", views.dataset_detail, name="dataset"),
    path("datasets/<int:dataset_id>/import/", views.dataset_import, name="dataset_import"),
    path("datasets/<int:dataset_id>/build/", views.dataset_build, name="dataset_build"),
    path("datasets/versions/<int:version_id>/", views.dataset_version, name="dataset_version"),
    path("datasets/versions/<int:version_id>/cancel/", views.dataset_version_cancel_view,
         name="dataset_version_cancel"),
    path("datasets/versions/<int:version_id>/train/", views.dataset_version_train_view,
         name="dataset_version_train"),
    path("training/runs/<int:run_id>/cancel/", views.training_run_cancel_view,
         name="training_run_cancel"),
    path("models/", views.model_registry, name="models"),
    path("models/<int:version_id>/promote/", views.model_version_promote_view,
         name="model_version_promote"),
    path("models/<int:version_id>/archive/", views.model_version_archive_view,
         name="model_version_archive"),
    path("models/<int:version_id>/evaluate/", views.model_version_evaluate_view,
         name="model_version_evaluate"),
    path("models/<int:version_id>/evaluate/cancel/", views.model_version_evaluate_cancel_view,
         name="model_version_evaluate_cancel"),
    path("models/profiles/<int:profile_id>/rollback/", views.model_profile_rollback_view,
         name="model_profile_rollback"),
    path("models/profiles/<int:profile_id>/candidate/", views.model_profile_candidate_view,
         name="model_profile_candidate"),
    path("models/retrain-policy/", views.retrain_policy_view, name="retrain_policy"),
]
