"""mark images sanitised

Adds game_images.sanitised. Every row existing at upgrade time came from revision 0002, which
moved the old embedded images byte for byte, never sanitised: they are marked false, and the
public endpoint does not serve them until ``flask images sanitise`` has cleaned them. Rows
stored afterwards come from the sanitiser (store_image, the only writer): the column's
default becomes true once the existing rows are marked.

The downgrade drops the column: no image data is lost, only the mark; upgrading again marks
every row unsanitised, and ``images sanitise`` then finds the clean ones clean (sanitising
stored output changes nothing) and marks them without changing any id.

Revision ID: 0006_image_sanitised
Revises: 0005_page_sessions
Create Date: 2026-12-01

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_image_sanitised"
down_revision = "0005_page_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("game_images") as batch:
        batch.add_column(
            sa.Column("sanitised", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("game_images") as batch:
        batch.alter_column("sanitised", server_default=sa.true())


def downgrade():
    with op.batch_alter_table("game_images") as batch:
        batch.drop_column("sanitised")
