"""clients that arrive on their own

Revision ID: 0014a
Revises: 0013a

Dynamic Client Registration (RFC 7591/7592): how a client was registered, the digest of its registration
access token, and the links its consent page shows. A client_id on codes, tokens, consents and audit rows may be
a Client ID Metadata Document URL, so those columns hold up to 255 characters.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014a'
down_revision = '0013a'
branch_labels = None
depends_on = None

LINKS = ('client_uri', 'logo_uri', 'policy_uri', 'tos_uri')
# table -> whether its client_id may be NULL
NAMED_BY_CLIENT_ID = {'authorization_codes': False, 'refresh_tokens': False, 'access_tokens': False,
                      'consents': False, 'audit_events': True}


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        for link in LINKS:
            batch_op.add_column(sa.Column(link, sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('registered_via', sa.String(length=16), nullable=False,
                                      server_default='operator'))
        batch_op.add_column(sa.Column('registration_access_token_hash', sa.String(length=64), nullable=True))
    for table, nullable in NAMED_BY_CLIENT_ID.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('client_id', type_=sa.String(length=255), existing_type=sa.String(length=64),
                                  existing_nullable=nullable)


def downgrade():
    for table, nullable in NAMED_BY_CLIENT_ID.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('client_id', type_=sa.String(length=64), existing_type=sa.String(length=255),
                                  existing_nullable=nullable)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('registration_access_token_hash')
        batch_op.drop_column('registered_via')
        for link in reversed(LINKS):
            batch_op.drop_column(link)
