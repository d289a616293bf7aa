"""product: 청약철회 window and limit, and the after-paying how-to

Revision ID: b7c41f0e2a91
Revises: f666402c0b27
Create Date: 2026-11-24 09:00:00

Product.cooling_off_days (the 청약철회 window after the payment day; 7, the law's minimum,
for existing products), Product.cooling_off_exclusion (what counts as the beginning of
provision for digital content whose 청약철회 is limited once it began; empty = not limited)
and Product.getting_started (how to start using the product, shown after paying). Existing
products get 7 days, no limit and no how-to: the merchant fills them in the admin.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b7c41f0e2a91"
down_revision = "f666402c0b27"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("getting_started", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("cooling_off_days", sa.Integer(), nullable=False, server_default="7"))
        batch_op.add_column(sa.Column("cooling_off_exclusion", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("cooling_off_exclusion")
        batch_op.drop_column("cooling_off_days")
        batch_op.drop_column("getting_started")
