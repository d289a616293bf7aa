"""catalog versions: one row bumped with every catalog change

The shop caches its catalog pages in each web process (storefront/web/catalog_cache.py) and
compares `catalog_versions.version` once per page view; every change to a category, product or
plan bumps it in the same transaction (storefront/catalog_version.py). The one row starts at 0.

Revision ID: c4a7e2d91b05
Revises: b7d41c9e2a10
Create Date: 2026-12-02 12:00:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "c4a7e2d91b05"
down_revision = "b7d41c9e2a10"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "catalog_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_versions")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])


def downgrade():
    op.drop_table("catalog_versions")
