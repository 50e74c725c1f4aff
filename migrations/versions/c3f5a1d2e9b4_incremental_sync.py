"""Incremental sync: the change record

Revision ID: c3f5a1d2e9b4
Revises: d41e7b9a0c56
Create Date: 2026-12-04 17:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c3f5a1d2e9b4"
down_revision = "d41e7b9a0c56"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sync_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("bucket_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("purged_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
            name=op.f("fk_sync_streams_bucket_id_buckets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_streams_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_streams")),
        sa.UniqueConstraint("key", name=op.f("uq_sync_streams_key")),
    )
    op.create_table(
        "sync_changes",
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["sync_streams.id"],
            name=op.f("fk_sync_changes_stream_id_sync_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stream_id", "row_id", name=op.f("pk_sync_changes")),
    )
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index("ix_sync_changes_stream_id_seq", ["stream_id", "seq"], unique=True)
        batch_op.create_index(
            "ix_sync_changes_stream_id_deleted_seq", ["stream_id", "deleted", "seq"], unique=False
        )


def downgrade():
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_changes_stream_id_deleted_seq")
        batch_op.drop_index("ix_sync_changes_stream_id_seq")

    op.drop_table("sync_changes")
    op.drop_table("sync_streams")
