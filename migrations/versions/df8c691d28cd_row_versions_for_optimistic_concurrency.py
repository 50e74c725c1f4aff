"""Row versions for optimistic concurrency

Revision ID: df8c691d28cd
Revises: 8aa813487bd9
Create Date: 2026-11-22 00:42:45.655330

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "df8c691d28cd"
down_revision = "8aa813487bd9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )

    with op.batch_alter_table("todos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("todos", schema=None) as batch_op:
        batch_op.drop_column("version")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("version")

    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_column("version")
