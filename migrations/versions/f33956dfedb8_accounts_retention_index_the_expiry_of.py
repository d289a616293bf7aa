"""accounts retention: index the expiry of sign-ins and password-reset links

The daily retention job (storefront/retention.py) deletes `user_sessions` past their lifetime and
`password_resets` a day after they expire; an index on each table's `expires_at` keeps that one
DELETE from reading the whole table. Nothing else changes.

Revision ID: f33956dfedb8
Revises: f72c2a40ceb6
Create Date: 2026-12-02 07:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "f33956dfedb8"
down_revision = "f72c2a40ceb6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_expires_at"))

    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_expires_at"))
