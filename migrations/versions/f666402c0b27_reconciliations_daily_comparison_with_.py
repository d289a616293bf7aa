"""reconciliations: daily comparison with Toss's transactions

`reconciliations` holds one row per Korean day (unique `day`): the counts and sums of Toss's
transactions and of our paid attempts and refunds, how many were matched, recorded from Toss
or flagged, and Toss's settlement for the day. Day sums are BIGINT (a busy shop passes 21억원).
`reconciliation_items` holds each difference, unique per (day, kind, ref) so a second run of
the same day adds nothing. Purely additive: no existing table changes.

Revision ID: f666402c0b27
Revises: d8c2964e8fd5
Create Date: 2026-12-02 05:20:23.605545

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f666402c0b27"
down_revision = "d8c2964e8fd5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("toss_approved_count", sa.Integer(), nullable=False),
        sa.Column("toss_approved_won", sa.BigInteger(), nullable=False),
        sa.Column("toss_canceled_count", sa.Integer(), nullable=False),
        sa.Column("toss_canceled_won", sa.BigInteger(), nullable=False),
        sa.Column("our_paid_count", sa.Integer(), nullable=False),
        sa.Column("our_paid_won", sa.BigInteger(), nullable=False),
        sa.Column("our_refunded_count", sa.Integer(), nullable=False),
        sa.Column("our_refunded_won", sa.BigInteger(), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("recorded_count", sa.Integer(), nullable=False),
        sa.Column("flagged_count", sa.Integer(), nullable=False),
        sa.Column("settlement_count", sa.Integer(), nullable=True),
        sa.Column("settlement_amount_won", sa.BigInteger(), nullable=True),
        sa.Column("settlement_fee_won", sa.BigInteger(), nullable=True),
        sa.Column("settlement_payout_won", sa.BigInteger(), nullable=True),
        sa.Column("payout_dates", sa.String(length=100), nullable=False),
        sa.Column("settlement_note", sa.String(length=300), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("first_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
        sa.UniqueConstraint("day", name=op.f("uq_reconciliations_day")),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reconciliation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("payment_key", sa.String(length=200), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("toss_amount_won", sa.Integer(), nullable=True),
        sa.Column("our_amount_won", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_reconciliation_items_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliations.id"],
            name=op.f("fk_reconciliation_items_reconciliation_id_reconciliations"),
        ),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_reconciliation_items_refund_id_refunds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
        sa.UniqueConstraint("reconciliation_id", "kind", "ref", name="uq_reconciliation_items_kind_ref"),
    )
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_items_reconciliation_id"), ["reconciliation_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_items_reconciliation_id"))

    op.drop_table("reconciliation_items")
    op.drop_table("reconciliations")
