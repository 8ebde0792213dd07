"""consents remember when they began

Revision ID: 0013a
Revises: 0010a

The account page's "Connected apps" says since when a person has allowed each app; granted_at moves with
every scope added later, so a consent keeps its first moment in created_at. Existing consents begin at their
granted_at, the earliest moment known of them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013a'
down_revision = '0010a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_at', sa.Integer(), nullable=True))
    op.execute("UPDATE consents SET created_at = granted_at")
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.alter_column('created_at', existing_type=sa.Integer(), nullable=False)


def downgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('created_at')
