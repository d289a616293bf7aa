"""billing key fingerprint and needs-update mark; refund failure details

Revision ID: 6a657cb984aa
Revises: e3fd27b1fee2
Create Date: 2026-11-23 21:35:42.898909

BillingKey.fingerprint (hex SHA-256 of the key) lets a BILLING_DELETED webhook find its
row without opening every sealed key; needs_update_at marks a card Toss says it deleted.
Existing rows keep fingerprint NULL until re-sealed (Vault.seal sets it).
Refund gains the decline details and the moment it settled.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "6a657cb984aa"
down_revision = "e3fd27b1fee2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("billing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("needs_update_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_billing_keys_fingerprint"), ["fingerprint"], unique=False)

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("failure_message", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("settled_at")
        batch_op.drop_column("failure_message")
        batch_op.drop_column("failure_code")

    with op.batch_alter_table("billing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_keys_fingerprint"))
        batch_op.drop_column("needs_update_at")
        batch_op.drop_column("fingerprint")
