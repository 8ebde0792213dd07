"""upstream identity providers and federated identities

Revision ID: 0017a
Revises: 0012a

People may sign in through upstream OpenID Connect and OAuth 2.0 providers (README "Federation"): the providers
(client secret sealed), each person's identities there keyed by (provider, upstream sub), and the provider a
session and its authorization codes came through (the ID token's idp claim).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017a'
down_revision = '0012a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upstream_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('preset', sa.String(length=20), nullable=True),
    sa.Column('issuer', sa.String(length=500), nullable=True),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('client_secret_sealed', sa.Text(), nullable=False),
    sa.Column('token_endpoint_auth_method', sa.String(length=30), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('authorization_endpoint', sa.String(length=500), nullable=True),
    sa.Column('token_endpoint', sa.String(length=500), nullable=True),
    sa.Column('userinfo_endpoint', sa.String(length=500), nullable=True),
    sa.Column('claim_mapping', sa.JSON(), nullable=False),
    sa.Column('role_mapping', sa.JSON(), nullable=False),
    sa.Column('trusted_domains', sa.JSON(), nullable=False),
    sa.Column('allow_sign_up', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_upstream_providers_name'))
    )
    op.create_table('federated_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('last_used_at', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['upstream_providers.id'],
                            name=op.f('fk_federated_identities_provider_id_upstream_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_federated_identities_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federated_identities')),
    sa.UniqueConstraint('provider_id', 'subject', name=op.f('uq_federated_identities_provider_id'))
    )
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federated_identities_user_id'), ['user_id'], unique=False)
    for table in ('login_sessions', 'authorization_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('idp', sa.String(length=40), nullable=True))


def downgrade():
    for table in ('authorization_codes', 'login_sessions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('idp')
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_identities_user_id'))
    op.drop_table('federated_identities')
    op.drop_table('upstream_providers')
