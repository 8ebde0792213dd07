"""make.user / make.client: explicit keyword arguments, safe defaults, committed through the services."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import update

from app.extensions import db
from app.models import Client, RefreshToken, User
from app.security.secrets import digest
from app.services.api_keys import create_api_key
from app.services.clients import create_client
from app.services.resources import create_resource
from app.services.service_accounts import create_service_account
from app.services.users import create_user

DEFAULT_PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str


class Factories:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._count = 0

    def user(self, email: str | None = None, password: str = DEFAULT_PASSWORD, **kwargs) -> User:
        self._count += 1
        with self.app.app_context():
            user = create_user(email or f"user{self._count}@example.com", password, **kwargs)
            user.id, user.sub  # noqa: B018 - load before the session closes
            return user

    def client(
        self,
        *,
        public: bool = False,
        redirect_uris: list[str] | None = None,
        grant_types: list[str] | None = None,
        scope: str | None = "openid profile email offline_access",
        **kwargs,
    ) -> RegisteredClient:
        uris = redirect_uris if redirect_uris is not None else [REDIRECT_URI]
        with self.app.app_context():
            registration = create_client(
                "Test App", public=public, redirect_uris=uris, grant_types=grant_types, scope=scope, **kwargs
            )
            return RegisteredClient(registration.client.client_id, registration.client_secret, uris[0] if uris else "")

    def machine(self, scope: str = "api:read api:write", **kwargs) -> RegisteredClient:
        return self.client(redirect_uris=[], grant_types=["client_credentials"], scope=scope, **kwargs)

    def resource(self, identifier: str = "https://api.example.com", scope: str = "api:read api:write",
                 name: str = "Test API") -> str:
        """A registered resource server (RFC 8707); returns its identifier."""
        with self.app.app_context():
            return create_resource(identifier, name, scope, actor=None).identifier

    def service_account(self, name: str = "worker", **kwargs) -> User:
        with self.app.app_context():
            account = create_service_account(name, actor=None, **kwargs)
            account.id, account.sub  # noqa: B018 - load before the session closes
            return account

    def api_key(self, owner: User, scope: str = "", name: str = "test key", expires_at: int | None = None
                ) -> RegisteredClient:
        """An API key as the token endpoint sees it: client_id = the key id, client_secret = the whole key."""
        with self.app.app_context():
            issued = create_api_key(db.session.get(User, owner.id), name, scope, expires_at=expires_at, actor=None)
            return RegisteredClient(issued.api_key.key_id, issued.key, "")

    def update(self, cls: type, where: dict[str, object], **values: object) -> int:
        """Change stored rows directly (age a session, expire a code); returns the row count."""
        with self.app.app_context():
            result = db.session.execute(update(cls).filter_by(**where).values(**values))
            db.session.commit()
            return result.rowcount

    def rotated_long_ago(self, refresh_token: str) -> None:
        """Move a refresh token's rotation out of the retry grace window (at most 60 s), as if a minute had passed."""
        rotated = self.update(RefreshToken, {"token_hash": digest(refresh_token)}, used_at=int(time.time()) - 61)
        assert rotated == 1, "no such refresh token"

    def jwt(self, claims: dict, typ: str | None = "at+jwt") -> str:
        """A JWT signed with the current signing key: tokens the server would never issue itself."""
        from app.oauth.signing import sign

        with self.app.app_context():
            return sign(claims, typ=typ)

    @staticmethod
    def model(model_class: type, **filters) -> Client | User | None:
        return db.session.query(model_class).filter_by(**filters).one_or_none()
