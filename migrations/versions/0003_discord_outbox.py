"""discord outbox

Creates discord_deliveries, the transactional outbox of Discord announcements (ids, action,
attempts, times, last error, lease; no game content), and guilds.webhook_disabled_at, set when
Discord says a webhook is gone.

The downgrade drops the outbox, which holds only transient work: announcements not yet
delivered are lost (it says how many). It drops the disabled markers too; the webhook URLs
stay, so nothing an operator entered is lost.

Revision ID: 0003_discord_outbox
Revises: 0002_images_table
Create Date: 2026-12-01

"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003_discord_outbox"
down_revision = "0002_images_table"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    op.create_table(
        "discord_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("guild_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_discord_deliveries"),
    )
    op.create_index("ix_discord_deliveries_state_due_at", "discord_deliveries", ["state", "due_at"])
    op.create_index("ix_discord_deliveries_game_id_id", "discord_deliveries", ["game_id", "id"])
    op.add_column(
        "guilds", sa.Column("webhook_disabled_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade():
    undelivered = op.get_bind().scalar(sa.text("SELECT count(*) FROM discord_deliveries"))
    if undelivered:
        log.warning("dropping discord_deliveries: %d announcement(s) not delivered", undelivered)
    op.drop_index("ix_discord_deliveries_game_id_id", table_name="discord_deliveries")
    op.drop_index("ix_discord_deliveries_state_due_at", table_name="discord_deliveries")
    op.drop_table("discord_deliveries")
    with op.batch_alter_table("guilds") as batch:
        batch.drop_column("webhook_disabled_at")
