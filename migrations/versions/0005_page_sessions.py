"""page sessions kept in the database

A page session is a row: the cookie carries a random secret, the row its SHA-256, the API
token it was opened with and when it ends. Logging out deletes the row (every copy of the
cookie stops working), revoking the token ends it (the lookup requires a live token, and
``users revoke-token`` deletes the rows), and ``expires_at`` bounds it to
SESSION_LIFETIME_HOURS.

The downgrade drops the table: it holds only open sessions, which end (their users log in
again); no game, image, user or token is touched.

Revision ID: 0005_page_sessions
Revises: 0004_restrict_owner_deletes
Create Date: 2026-12-01

"""

import sqlalchemy as sa
from alembic import op

revision = "0005_page_sessions"
down_revision = "0004_restrict_owner_deletes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "page_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            ondelete="CASCADE",
            name="fk_page_sessions_token_id_api_tokens",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_page_sessions"),
        sa.UniqueConstraint("secret_hash", name="uq_page_sessions_secret_hash"),
    )
    op.create_index("ix_page_sessions_token_id", "page_sessions", ["token_id"])


def downgrade():
    print("0005 downgrade: dropping page_sessions; open page sessions end (log in again)")
    op.drop_index("ix_page_sessions_token_id", table_name="page_sessions")
    op.drop_table("page_sessions")
