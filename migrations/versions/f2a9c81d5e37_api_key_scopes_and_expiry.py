"""API keys: scopes, expiry and last use

Revision ID: f2a9c81d5e37
Revises: e8b1c47d2f90
Create Date: 2026-12-04 22:00:00.000000

Keys made before keep what they could do: read and write, with no expiry.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f2a9c81d5e37"
down_revision = "e8b1c47d2f90"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (SQLite 3.35+), not batch mode, which would copy the table.
    op.add_column(
        "api_keys",
        sa.Column("scope", sa.String(length=20), server_default="read write", nullable=False),
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
    op.drop_column("api_keys", "scope")
