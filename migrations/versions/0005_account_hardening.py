"""account hardening

Revision ID: 0005a
Revises: 0004a

Usernames become unique ignoring case (a unique index on lower(username)), as sign-in and the CLI look
them up. Existing usernames that differ only in case stop the upgrade with the accounts named, for the
operator to rename all but one (`ostiary users update SUB --username NEW`) and run it again.

Authorization codes and refresh tokens remember the sign-in session they were issued in
(login_session_id, null for those issued before), so that signing out a session can disconnect its apps.
"""
import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

# revision identifiers, used by Alembic.
revision = '0005a'
down_revision = '0004a'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.Integer()), sa.column('sub', sa.String()),
                 sa.column('email', sa.String()), sa.column('username', sa.String()))


def colliding_usernames() -> list[sa.Row]:
    """(lower(username), sub, email, username) of every account whose username another has in another case."""
    folded = sa.func.lower(users.c.username)
    shared = (sa.select(folded).where(users.c.username.is_not(None)).group_by(folded)
              .having(sa.func.count() > 1))
    query = (sa.select(folded.label('folded'), users.c.sub, users.c.email, users.c.username)
             .where(folded.in_(shared)).order_by(folded, users.c.id))
    return list(op.get_bind().execute(query))


def collision_report(rows: list[sa.Row]) -> str:
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.folded, []).append(f'{row.username!r} (sub {row.sub}, email {row.email})')
    listed = '; '.join(f'{name!r}: ' + ', '.join(accounts) for name, accounts in groups.items())
    return ('usernames must be unique ignoring case, and these accounts share one: ' + listed
            + '. Rename all but one of each (ostiary users update SUB --username NEW), then upgrade again.')


def upgrade():
    rows = colliding_usernames()
    if rows:
        raise CommandError(collision_report(rows))
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
    for table in ('authorization_codes', 'refresh_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('login_session_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_login_session_id'), ['login_session_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_login_session_id_login_sessions'), 'login_sessions',
                                        ['login_session_id'], ['id'], ondelete='SET NULL')


def downgrade():
    for table in ('refresh_tokens', 'authorization_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_login_session_id_login_sessions'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_login_session_id'))
            batch_op.drop_column('login_session_id')
    op.drop_index('uq_users_username_lower', table_name='users')
