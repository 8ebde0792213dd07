"""consent resources

Revision ID: 0004a
Revises: 0003

A remembered consent records the RFC 8707 resources it was given for: a request naming another
resource asks again. Consents given before this revision cover no named resource.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004a'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('resources')
