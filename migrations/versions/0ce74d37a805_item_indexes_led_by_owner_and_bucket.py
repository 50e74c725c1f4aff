"""Item indexes led by owner and bucket

Revision ID: 0ce74d37a805
Revises: 147efefb32f3
Create Date: 2026-11-22 02:03:03.476323

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0ce74d37a805"
down_revision = "147efefb32f3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_bucket_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_items_bucket_id_id"))
        batch_op.drop_index(batch_op.f("ix_items_bucket_id_name_id"))
        batch_op.drop_index(batch_op.f("ix_items_user_id"))
        batch_op.create_index("ix_items_bucket_id", ["bucket_id"], unique=False)
        batch_op.create_index(
            "ix_items_user_id_bucket_id_created_at_id",
            ["user_id", "bucket_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_items_user_id_bucket_id_id", ["user_id", "bucket_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_items_user_id_bucket_id_name_id",
            ["user_id", "bucket_id", "name", "id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_user_id_bucket_id_name_id")
        batch_op.drop_index("ix_items_user_id_bucket_id_id")
        batch_op.drop_index("ix_items_user_id_bucket_id_created_at_id")
        batch_op.drop_index("ix_items_bucket_id")
        batch_op.create_index(batch_op.f("ix_items_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_items_bucket_id_name_id"), ["bucket_id", "name", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_items_bucket_id_id"), ["bucket_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_items_bucket_id_created_at_id"),
            ["bucket_id", "created_at", "id"],
            unique=False,
        )
