"""Bucket lists and items

Revision ID: 8aa813487bd9
Revises: a2ba8f8f7e76
Create Date: 2026-11-22 00:26:18.365047

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8aa813487bd9"
down_revision = "a2ba8f8f7e76"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "buckets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_buckets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buckets")),
    )
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_buckets_user_id_created_at_id", ["user_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_buckets_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_buckets_user_id_name_id", ["user_id", "name", "id"], unique=False)

    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
            name=op.f("fk_items_bucket_id_buckets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_items_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_bucket_id_created_at_id", ["bucket_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_items_bucket_id_id", ["bucket_id", "id"], unique=False)
        batch_op.create_index(
            "ix_items_bucket_id_name_id", ["bucket_id", "name", "id"], unique=False
        )
        batch_op.create_index("ix_items_user_id", ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_user_id")
        batch_op.drop_index("ix_items_bucket_id_name_id")
        batch_op.drop_index("ix_items_bucket_id_id")
        batch_op.drop_index("ix_items_bucket_id_created_at_id")

    op.drop_table("items")
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_index("ix_buckets_user_id_name_id")
        batch_op.drop_index("ix_buckets_user_id_id")
        batch_op.drop_index("ix_buckets_user_id_created_at_id")

    op.drop_table("buckets")
