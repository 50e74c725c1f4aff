"""Bucket lists in manual order: items' completion time and position, a bucket's done count

Revision ID: b7e2d4c61a08
Revises: 5c1f0a9e7d21
Create Date: 2026-12-04 09:00:00.000000

Existing items get no completion time and positions in their id order (as todos did in
5c1f0a9e7d21); each bucket's `done_count` is counted once here, then kept by triggers: a
frozen copy of `models.counts`, as in the counts migration.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2d4c61a08"
down_revision = "5c1f0a9e7d21"
branch_labels = None
depends_on = None

POSITION = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
INDEX = "ix_items_user_id_bucket_id_position_id"
POSITIONS = {
    "sqlite": "UPDATE items SET position = printf('%012d', id) || 'i'",
    "postgresql": "UPDATE items SET position = lpad(id::text, 12, '0') || 'i'",
}
DONE_COUNTS = (
    "UPDATE buckets SET done_count = "
    "(SELECT count(*) FROM items WHERE items.bucket_id = buckets.id AND items.done)"
)
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER items_done_count_insert AFTER INSERT ON items FOR EACH ROW "
        "BEGIN UPDATE buckets SET done_count = done_count + 1 "
        "WHERE id = NEW.bucket_id AND NEW.done; END",
        "CREATE TRIGGER items_done_count_delete AFTER DELETE ON items FOR EACH ROW "
        "BEGIN UPDATE buckets SET done_count = done_count - 1 "
        "WHERE id = OLD.bucket_id AND OLD.done; END",
        "CREATE TRIGGER items_done_count_move AFTER UPDATE OF bucket_id, done ON items "
        "FOR EACH ROW WHEN OLD.bucket_id IS NOT NEW.bucket_id OR OLD.done IS NOT NEW.done "
        "BEGIN UPDATE buckets SET done_count = done_count - 1 "
        "WHERE id = OLD.bucket_id AND OLD.done; "
        "UPDATE buckets SET done_count = done_count + 1 "
        "WHERE id = NEW.bucket_id AND NEW.done; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION items_done_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'INSERT' THEN UPDATE buckets SET done_count = done_count + counted.n "
        "FROM (SELECT bucket_id, count(*) AS n FROM new_rows WHERE done "
        "GROUP BY bucket_id) AS counted "
        "WHERE buckets.id = counted.bucket_id; "
        "ELSIF TG_OP = 'DELETE' THEN UPDATE buckets SET done_count = done_count - counted.n "
        "FROM (SELECT bucket_id, count(*) AS n FROM old_rows WHERE done "
        "GROUP BY bucket_id) AS counted "
        "WHERE buckets.id = counted.bucket_id; "
        "ELSE UPDATE buckets SET done_count = done_count - 1 "
        "WHERE id = OLD.bucket_id AND OLD.done; "
        "UPDATE buckets SET done_count = done_count + 1 "
        "WHERE id = NEW.bucket_id AND NEW.done; "
        "END IF; "
        "RETURN NULL; "
        "END $$",
        "CREATE TRIGGER items_done_count_insert AFTER INSERT ON items "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION items_done_count()",
        "CREATE TRIGGER items_done_count_delete AFTER DELETE ON items "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION items_done_count()",
        "CREATE TRIGGER items_done_count_move AFTER UPDATE OF bucket_id, done ON items "
        "FOR EACH ROW WHEN (OLD.bucket_id IS DISTINCT FROM NEW.bucket_id "
        "OR OLD.done IS DISTINCT FROM NEW.done) EXECUTE FUNCTION items_done_count()",
    ],
}


# Plain ALTER TABLE ADD/DROP COLUMN, as in 5c1f0a9e7d21: batch mode would copy the tables.


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column("items", sa.Column("completed_at", sa.DateTime(), nullable=True))
    op.add_column("items", sa.Column("position", POSITION, nullable=False, server_default=""))
    op.execute(POSITIONS[dialect])
    op.create_index(INDEX, "items", ["user_id", "bucket_id", "position", "id"], unique=False)
    op.add_column(
        "buckets",
        sa.Column("done_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(DONE_COUNTS)
    for statement in TRIGGERS[dialect]:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS items_done_count() CASCADE")
    else:
        for event in ("insert", "delete", "move"):
            op.execute(f"DROP TRIGGER IF EXISTS items_done_count_{event}")
    op.drop_column("buckets", "done_count")
    op.drop_index(INDEX, table_name="items")
    op.drop_column("items", "position")
    op.drop_column("items", "completed_at")
