"""roles, resources, api keys

Revision ID: 0003
Revises: 0002

Users get roles (the old is_admin flag becomes the "admin" role), API scopes and a service-account
flag; clients get allowed RFC 8707 resources; codes and refresh tokens remember their resource.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('is_admin', sa.Boolean()), sa.column('roles', sa.JSON()),
                 sa.column('is_service_account', sa.Boolean()))


def upgrade():
    op.create_table('resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=500), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resources')),
    sa.UniqueConstraint('identifier', name=op.f('uq_resources_identifier'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=True),
    sa.Column('last_used_at', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_api_keys_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_keys_key_id'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_owner_id'), ['owner_id'], unique=False)

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=500), nullable=True))

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=False, server_default='[]'))

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=500), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roles', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('scope', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('is_service_account', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=320),
               nullable=True)
    # The is_admin flag becomes the "admin" role.
    op.execute(users.update().where(users.c.is_admin == sa.true()).values(roles=["admin"]))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_admin')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.BOOLEAN(), nullable=False, server_default=sa.false()))
    # Service accounts have no email and cannot exist in the older schema.
    op.execute(users.delete().where(users.c.is_service_account == sa.true()))
    op.execute(users.update().where(sa.cast(users.c.roles, sa.Text).like('%"admin"%')).values(is_admin=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=320),
               nullable=False)
        batch_op.drop_column('is_service_account')
        batch_op.drop_column('scope')
        batch_op.drop_column('roles')

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('resource')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('resources')

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('resource')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_owner_id'))

    op.drop_table('api_keys')
    op.drop_table('resources')
