"""audit log user_id: which customer a row is about

The admin's audit page filters by customer; admin views and actions now record the
customer they concern. A nullable, indexed integer (no foreign key: the log is
append-only and outlives nothing, users are anonymised, never deleted), so existing
rows need no backfill: they are still found through their subscription or card.

Revision ID: b7d41c9e2a10
Revises: f33956dfedb8
Create Date: 2026-12-02 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b7d41c9e2a10"
down_revision = "f33956dfedb8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_logs_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_logs_user_id"))
        batch_op.drop_column("user_id")
