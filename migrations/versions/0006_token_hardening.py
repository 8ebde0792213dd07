"""token hardening

Revision ID: 0006a
Revises: 0007a

Clients get introspection permissions (RFC 7662 §4): the registered resources whose tokens they may
introspect as that resource's server, or every token. A refresh token records the token whose rotation
issued it, so a retried rotation can find the child it replaces.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006a'
down_revision = '0007a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('introspect_resources', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('introspect_all', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_refresh_tokens_parent_id'), ['parent_id'], unique=False)


def downgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_parent_id'))
        batch_op.drop_column('parent_id')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('introspect_all')
        batch_op.drop_column('introspect_resources')
