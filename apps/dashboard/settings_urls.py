"""The workspace settings pages, included under settings/ in the dashboard's URLs (so their
names are the dashboard's: `dashboard:settings`, ...)."""

from django.urls import path

from apps.dashboard import settings_views as views

urlpatterns = [
    path("", views.settings_index, name="settings"),
    path("members/", views.members, name="settings_members"),
    path("members/<int:member_id>/", views.member_change, name="settings_member"),
    path("api-keys/", views.api_keys, name="settings_api_keys"),
    path("api-keys/<int:api_key_id>/revoke/", views.api_key_revoke,
         name="settings_api_key_revoke"),
    path("targets/", views.targets, name="settings_targets"),
    path("targets/new/", views.target_new, name="settings_target_new"),
    path("targets/<int:target_id>/", views.target_edit, name="settings_target"),
    path("targets/<int:target_id>/test/", views.target_test, name="settings_target_test"),
    path("content-types/", views.content_types, name="settings_content_types"),
    path("content-types/<int:content_type_id>/", views.content_type_settings,
         name="settings_content_type"),
    path("content-types/<int:content_type_id>/gate/", views.gate_save, name="settings_gate"),
    path("content-types/<int:content_type_id>/policy/", views.policy_save,
         name="settings_policy"),
    path("model-profiles/", views.model_profiles, name="settings_model_profiles"),
    path("model-profiles/<int:profile_id>/", views.model_profile_edit,
         name="settings_model_profile"),
    path("model-profiles/<int:profile_id>/check/", views.model_profile_check,
         name="settings_model_profile_check"),
    path("webhooks/", views.webhooks, name="settings_webhooks"),
    path("webhooks/endpoints/", views.endpoint_new, name="settings_endpoint_new"),
    path("webhooks/endpoints/<int:endpoint_id>/rotate/", views.endpoint_rotate,
         name="settings_endpoint_rotate"),
    path("webhooks/subscriptions/", views.subscription_new, name="settings_subscription_new"),
    path("webhooks/subscriptions/<int:subscription_id>/enable/", views.subscription_enable_view,
         name="settings_subscription_enable"),
    path("webhooks/deliveries/<int:delivery_id>/redeliver/", views.delivery_redeliver_view,
         name="settings_delivery_redeliver"),
]
