"""What is stored. Every secret a client presents is kept only as a SHA-256 digest."""

from app.models.api_key import ApiKey
from app.models.audit import AuditEvent
from app.models.authorization_code import AuthorizationCode
from app.models.client import Client
from app.models.consent import Consent
from app.models.one_time_token import OneTimeToken
from app.models.outbox import OutboxMessage
from app.models.resource import Resource
from app.models.second_factor import Passkey, RecoveryCode, TotpSecret
from app.models.session import LoginSession
from app.models.token import AccessTokenRecord, RefreshToken
from app.models.upstream_provider import FederatedIdentity, UpstreamProvider
from app.models.user import User

__all__ = ["AccessTokenRecord", "ApiKey", "AuditEvent", "AuthorizationCode", "Client", "Consent", "FederatedIdentity",
           "LoginSession", "OneTimeToken", "OutboxMessage", "Passkey", "RecoveryCode", "RefreshToken", "Resource",
           "TotpSecret", "UpstreamProvider", "User"]
