"""What each role may do, per model, checked against the user's role in the object's workspace.

One table serves the admin (per object, never through global groups) and the API's
governance checks: a user who is admin in one workspace and reviewer in another is
only a reviewer there.
"""

from apps.accounts.models import Role

# Governance: the rules and the credentials that govern a workspace's content (approval
# policies, quality gates, targets, model profiles, API keys, members, webhooks) are for
# workspace admins; editors create and manage briefs; reviewers decide.
_GOVERNED_BY_ADMINS: dict[tuple[str, str], tuple[str, ...]] = {
    ("core", "workspace"): ("view", "change"),
    ("core", "auditevent"): ("view",),
    ("accounts", "membership"): ("add", "change", "delete", "view"),
    ("apikeys", "apikey"): ("add", "change", "view"),
    ("generation", "modelprofile"): ("add", "change", "view"),
    ("generation", "generationquota"): ("add", "change", "view"),
    ("generation", "trainingrun"): ("view",),
    ("generation", "modelversion"): ("view",),
    ("datasets", "dataset"): ("view",),
    ("datasets", "datasetversion"): ("view",),
    ("evaluation", "qualitygate"): ("add", "change", "view"),
    ("evaluation", "workspaceevaluationsettings"): ("add", "change", "view"),
    ("reviews", "approvalpolicy"): ("add", "change", "view"),
    ("publishing", "publishingtarget"): ("add", "change", "view"),
    ("integrations", "inboundendpoint"): ("add", "change", "view"),
    ("integrations", "subscription"): ("add", "change", "view"),
    ("integrations", "delivery"): ("view",),
}

# (app_label, model) -> actions, per role.
ROLE_PERMISSIONS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    Role.EDITOR: {
        ("briefs", "contentbrief"): ("add", "change", "view"),
        ("briefs", "contenttype"): ("add", "change", "view"),
        ("briefs", "styleguide"): ("add", "change", "view"),
        ("generation", "modelprofile"): ("view",),
        ("generation", "generationjob"): ("view", "change"),
        ("generation", "draft"): ("view",),
        ("evaluation", "evaluation"): ("view",),
        ("publishing", "publishingtarget"): ("view",),
        ("publishing", "publication"): ("view", "change"),
        ("reviews", "approvalpolicy"): ("view",),
        ("reviews", "reviewassignment"): ("view",),
        ("notifications", "notification"): ("view",),
        ("evaluation", "qualitygate"): ("view",),
        ("evaluation", "gatedecision"): ("view",),
        ("integrations", "feedsource"): ("add", "change", "view"),
        ("integrations", "recurringbrief"): ("add", "change", "view"),
    },
    Role.REVIEWER: {
        ("briefs", "contentbrief"): ("view",),
        ("generation", "draft"): ("view",),
        ("evaluation", "evaluation"): ("view",),
        ("reviews", "review"): ("add", "view"),
        ("reviews", "draftrevision"): ("add", "view"),
        ("publishing", "publication"): ("view",),
        ("reviews", "reviewcomment"): ("view",),
        ("reviews", "reviewassignment"): ("view",),
        ("reviews", "guestlink"): ("view",),
        ("notifications", "notification"): ("view",),
    },
}
# Admins may do everything editors and reviewers may, and govern the workspace.
ROLE_PERMISSIONS[Role.ADMIN] = {
    key: tuple(sorted(set(ROLE_PERMISSIONS[Role.EDITOR].get(key, ()))
                      | set(ROLE_PERMISSIONS[Role.REVIEWER].get(key, ()))
                      | set(_GOVERNED_BY_ADMINS.get(key, ()))))
    for key in {*ROLE_PERMISSIONS[Role.EDITOR], *ROLE_PERMISSIONS[Role.REVIEWER],
                *_GOVERNED_BY_ADMINS}
}


def role_allows(role: str | None, app_label: str, model_name: str, action: str) -> bool:
    """Whether `role` may take `action` (add, change, delete, view) on rows of the model."""
    return role is not None and action in ROLE_PERMISSIONS.get(role, {}).get(
        (app_label, model_name), ())


def roles_allowed(app_label: str, model_name: str, action: str) -> tuple[str, ...]:
    """The roles that may take `action` on rows of the model, for a membership check."""
    return tuple(role for role in ROLE_PERMISSIONS if role_allows(role, app_label, model_name, action))


# Which roles may take which workspace action (checked with the membership).
CAN_SUBMIT_BRIEFS = (Role.EDITOR, Role.ADMIN)
CAN_REVIEW = (Role.REVIEWER, Role.ADMIN)
CAN_VIEW = (Role.EDITOR, Role.REVIEWER, Role.ADMIN)
# The workspace's rules, credentials and members (see _GOVERNED_BY_ADMINS).
CAN_GOVERN = (Role.ADMIN,)
# Training writes a new model version of the workspace: admins only.
CAN_TRAIN = (Role.ADMIN,)
