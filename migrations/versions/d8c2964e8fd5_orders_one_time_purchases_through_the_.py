"""orders: one-time purchases through the payment window

A new `orders` table (amount fixed at creation, Toss orderId unique, status, consent,
payment key and receipt) and a nullable `attempts.order_pk`, so the confirm call of a
one-time order is an Attempt like a renewal's charge (charge_id NULL): admin refunds and
webhooks then work on it unchanged. Purely additive: existing rows need no backfill.

Revision ID: d8c2964e8fd5
Revises: 70b17be7c7f5
Create Date: 2026-11-23 22:03:45.642223

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d8c2964e8fd5"
down_revision = "70b17be7c7f5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("order_name", sa.String(length=100), nullable=False),
        sa.Column("amount_won", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("payment_key", sa.String(length=200), nullable=True),
        sa.Column("receipt_url", sa.String(length=500), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name=op.f("fk_orders_consent_id_consents")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_orders_plan_id_plans")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("order_id", name=op.f("uq_orders_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status_expires_at", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_pk", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attempts_order_pk"), ["order_pk"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_attempts_order_pk_orders"), "orders", ["order_pk"], ["id"])


def downgrade():
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_attempts_order_pk_orders"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_attempts_order_pk"))
        batch_op.drop_column("order_pk")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))
        batch_op.drop_index("ix_orders_status_expires_at")

    op.drop_table("orders")
