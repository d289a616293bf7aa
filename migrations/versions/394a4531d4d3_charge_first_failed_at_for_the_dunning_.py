"""charge first_failed_at for the dunning schedule

The dunning retries (DUNNING_RETRY_DAYS) count from the first decline of a charge,
which may come later than its period start (after transient errors); a nullable
column, so existing rows need no backfill.

Revision ID: 394a4531d4d3
Revises: 6a657cb984aa
Create Date: 2026-11-23 21:38:32.730978

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "394a4531d4d3"
down_revision = "6a657cb984aa"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_column("first_failed_at")
