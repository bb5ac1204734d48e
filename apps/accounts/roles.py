"""What each role may do, as Django permissions on the role's group.

Permissions say *what*; Membership says *where*: a check needs both.
"""

from apps.accounts.models import Role

GROUP_NAMES = {Role.EDITOR: "Editors", Role.REVIEWER: "Reviewers", Role.ADMIN: "Admins"}

# (app_label, model) -> actions, per role.
ROLE_PERMISSIONS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    Role.EDITOR: {
        ("briefs", "contentbrief"): ("add", "change", "view"),
        ("briefs", "contenttype"): ("add", "change", "view"),
        ("briefs", "styleguide"): ("add", "change", "view"),
        ("generation", "modelprofile"): ("add", "change", "view"),
        ("generation", "generationjob"): ("view", "change"),
        ("generation", "draft"): ("view",),
        ("evaluation", "evaluation"): ("view",),
        ("publishing", "publishingtarget"): ("add", "change", "view"),
        ("publishing", "publication"): ("view", "change"),
        ("reviews", "approvalpolicy"): ("add", "change", "view"),
        ("reviews", "reviewassignment"): ("view",),
        ("notifications", "notification"): ("view",),
        ("evaluation", "qualitygate"): ("add", "change", "view"),
        ("evaluation", "gatedecision"): ("view",),
        ("integrations", "inboundendpoint"): ("add", "change", "view"),
        ("integrations", "subscription"): ("add", "change", "view"),
        ("integrations", "feedsource"): ("add", "change", "view"),
        ("integrations", "recurringbrief"): ("add", "change", "view"),
        ("integrations", "delivery"): ("view",),
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
# Admins may do everything editors and reviewers may, and manage members.
ROLE_PERMISSIONS[Role.ADMIN] = {
    **ROLE_PERMISSIONS[Role.EDITOR],
    **ROLE_PERMISSIONS[Role.REVIEWER],
    ("accounts", "membership"): ("add", "change", "delete", "view"),
    ("apikeys", "apikey"): ("add", "change", "view"),
    ("generation", "generationquota"): ("add", "change", "view"),
    ("generation", "trainingrun"): ("view",),
    ("evaluation", "workspaceevaluationsettings"): ("add", "change", "view"),
}
for key in set(ROLE_PERMISSIONS[Role.EDITOR]) & set(ROLE_PERMISSIONS[Role.REVIEWER]):
    ROLE_PERMISSIONS[Role.ADMIN][key] = tuple(
        sorted(set(ROLE_PERMISSIONS[Role.EDITOR][key]) | set(ROLE_PERMISSIONS[Role.REVIEWER][key]))
    )

# Which roles may take which workspace action (checked with the membership).
CAN_SUBMIT_BRIEFS = (Role.EDITOR, Role.ADMIN)
CAN_REVIEW = (Role.REVIEWER, Role.ADMIN)
CAN_VIEW = (Role.EDITOR, Role.REVIEWER, Role.ADMIN)
# Training changes the model the workspace's jobs use (from scratch: the built-in model every
# workspace shares): admins only.
CAN_TRAIN = (Role.ADMIN,)
