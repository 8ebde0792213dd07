"""Issue benchmark credentials in-process, through the app's own models and token generator.

usage: issue_tokens.py CLIENT_ID USER_EMAIL SCOPE REFRESH_COUNT REFRESH_FILE ACCESS_COUNT ACCESS_FILE

Run with the same OSTIARY_* environment as the server. Writes REFRESH_COUNT refresh tokens (one family
each, as a sign-in would leave them: the rows save_token writes after an authorization_code grant) and
ACCESS_COUNT signed RFC 9068 access tokens (with their ledger rows, as for a refresh family), one per line.
Bulk inserts: 40k refresh tokens take a few seconds instead of 40k code flows.
"""

from __future__ import annotations

import sys
import time
import uuid

from sqlalchemy import insert, select

from app import create_app
from app.extensions import db
from app.models import AccessTokenRecord, Client, RefreshToken, User
from app.oauth.tokens import generate_token
from app.security.secrets import digest, generate_secret

BATCH = 5000


def issue_refresh_tokens(client: Client, user: User, scope: str, count: int, ttl: int) -> list[str]:
    tokens = [generate_secret(32) for _ in range(count)]
    issued_at = int(time.time())
    for start in range(0, count, BATCH):
        rows = [
            {"token_hash": digest(token), "family_id": str(uuid.uuid4()), "client_id": client.client_id,
             "user_id": user.id, "scope": scope, "resource": None, "auth_time": issued_at, "amr": "pwd",
             "issued_at": issued_at, "expires_at": issued_at + ttl}
            for token in tokens[start:start + BATCH]
        ]
        db.session.execute(insert(RefreshToken), rows)
        db.session.commit()
    return tokens


def issue_access_tokens(client: Client, user: User, scope: str, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        issued = generate_token("authorization_code", client, user=user, scope=scope, include_refresh_token=False)
        db.session.add(AccessTokenRecord(jti=issued.jti, family_id=str(uuid.uuid4()), client_id=client.client_id,
                                         expires_at=issued.expires_at))
        tokens.append(issued["access_token"])
    db.session.commit()
    return tokens


def write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 8:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    client_id, email, scope, refresh_count, refresh_file, access_count, access_file = argv[1:]
    app = create_app()
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == client_id))
        user = db.session.scalar(select(User).where(User.email == email))
        if client is None or user is None:
            print(f"issue_tokens: unknown client {client_id!r} or user {email!r}", file=sys.stderr)
            return 1
        started = time.perf_counter()
        write_lines(refresh_file, issue_refresh_tokens(client, user, scope, int(refresh_count),
                                                       app.config["REFRESH_TOKEN_TTL_SECONDS"]))
        write_lines(access_file, issue_access_tokens(client, user, scope, int(access_count)))
        print(f"issue_tokens: {refresh_count} refresh + {access_count} access tokens in "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
