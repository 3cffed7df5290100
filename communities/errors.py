from core.errors import ApplicationError, ErrorKind


class NotMember(ApplicationError):
    code = "not_member"


class CommunityInactive(ApplicationError):
    code = "community_inactive"


class AlreadyMember(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "already_member"


class NotAgent(ApplicationError):
    kind = ErrorKind.FORBIDDEN
    code = "not_agent"
