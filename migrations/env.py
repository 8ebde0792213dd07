"""Alembic environment: the engine and metadata come from the Flask app (Flask-Migrate)."""

import warnings

from alembic import context
from flask import current_app
from sqlalchemy.exc import SAWarning

config = context.config
db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))
target_metadata = db.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          **current_app.extensions["migrate"].configure_args)
        with context.begin_transaction(), warnings.catch_warnings():
            # Batch mode rebuilds a SQLite table from its reflection, and reflecting any table that refers to
            # users reflects users too, whose expression index (uq_users_username_lower, 0005a) SQLAlchemy cannot
            # reflect on SQLite and warns about. Harmless unless users itself is rebuilt: a migration that
            # batch-alters users must create that index again.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
