"""price changes that need the shopper's consent, and renewal notice bookkeeping

A raised price or a trial's first paid period is charged only with the shopper's separate
consent given within the 30 days before it (전자상거래법 제13조⑥, from 2025-02-14); each
such change is a price_changes row per subscription. The two nullable subscription columns
let the renewal-notice sweep pick only subscriptions still owed a notice. New table and
nullable columns only: no existing row needs a backfill.

Revision ID: 70b17be7c7f5
Revises: 394a4531d4d3
Create Date: 2026-11-23 21:58:51.014067

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "70b17be7c7f5"
down_revision = "394a4531d4d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "price_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("old_amount_won", sa.Integer(), nullable=False),
        sa.Column("new_amount_won", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("notice_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name=op.f("fk_price_changes_consent_id_consents")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_price_changes_created_by_id_users")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_price_changes_plan_id_plans")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_price_changes_subscription_id_subscriptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_changes")),
        sa.UniqueConstraint(
            "subscription_id", "kind", "effective_at", name="uq_price_changes_subscription_kind_effective"
        ),
        sa.UniqueConstraint("token", name=op.f("uq_price_changes_token")),
    )
    with op.batch_alter_table("price_changes", schema=None) as batch_op:
        batch_op.create_index("ix_price_changes_due", ["status", "effective_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_price_changes_subscription_id"), ["subscription_id"], unique=False)

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_notice_for_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("renewal_notice_days", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("renewal_notice_days")
        batch_op.drop_column("renewal_notice_for_at")

    with op.batch_alter_table("price_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_changes_subscription_id"))
        batch_op.drop_index("ix_price_changes_due")

    op.drop_table("price_changes")
