"""an authorization code remembers the acr its ID token must carry

Revision ID: 0018a
Revises: 0017a

OpenID Connect Core §5.5.1.1: when a relying party asks for acr values as an essential claim, the ID token's acr
is one of the values it asked for. The code keeps the value chosen at authorization; NULL (every existing code)
means the level the sign-in reached. A plain ADD COLUMN: batch mode on SQLite would rebuild the table.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018a'
down_revision = '0017a'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('authorization_codes', sa.Column('acr', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('acr')
