"""clients can be disabled

Revision ID: 0010a
Revises: 0006a

A disabled client is refused at the authorization and token endpoints as if it were not registered
(`ostiary clients disable`, POST /admin/api/clients/{client_id}/disable); every existing client stays enabled.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010a'
down_revision = '0006a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('is_active')
