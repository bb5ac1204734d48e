"""Domain errors that services raise and the API and views turn into 4xx."""


class DomainError(Exception):
    """A request the domain refuses; the message is shown to the user as is."""

    status_code = 400


class IllegalTransition(DomainError):
    status_code = 409


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403
