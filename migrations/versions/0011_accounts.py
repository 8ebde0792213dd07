"""self-service sign-ups are pending until their address is confirmed

Revision ID: 0011a
Revises: 0014a

A person who signs up on /signup gets an account that cannot sign in until the mailed link confirms the
address; another sign-up, invitation or email change that proves the mailbox replaces it. Every existing
account was created by an operator and stays as it is.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011a'
down_revision = '0014a'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN, not a batch: SQLite's batch mode copies the table and would lose the expression index
    # uq_users_username_lower (revision 0005a), which it cannot reflect.
    op.add_column('users', sa.Column('registration_pending', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    op.drop_index('uq_users_username_lower', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('registration_pending')
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
