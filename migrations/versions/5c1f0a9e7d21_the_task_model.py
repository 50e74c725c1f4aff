"""The task model: due dates, priority, completion time, manual order and tags

Revision ID: 5c1f0a9e7d21
Revises: 853fc0491466
Create Date: 2026-12-03 22:40:00.000000

Existing todos get no due date, priority 0, no tags, no completion time (a todo already
done was completed at a time nobody recorded), and positions in their id order: the id
zero-padded to the 12-digit head of `models.ordering`, then one more digit, so that no
position ends in the digit 0. The count trigger of `tags.todo_count` is a frozen copy of
`models.counts`, as in the counts migration.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5c1f0a9e7d21"
down_revision = "853fc0491466"
branch_labels = None
depends_on = None

POSITION = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
TODO_INDEXES = {
    "ix_todos_user_id_due_first_id": ["user_id", "due_first", "id"],
    "ix_todos_user_id_due_last_id": ["user_id", "due_last", "id"],
    "ix_todos_user_id_priority_id": ["user_id", "priority", "id"],
    "ix_todos_user_id_position_id": ["user_id", "position", "id"],
    "ix_todos_user_id_done_due_first": ["user_id", "done", "due_first"],
}
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER todo_tags_count_insert AFTER INSERT ON todo_tags FOR EACH ROW "
        "BEGIN UPDATE tags SET todo_count = todo_count + 1 WHERE id = NEW.tag_id; END",
        "CREATE TRIGGER todo_tags_count_delete AFTER DELETE ON todo_tags FOR EACH ROW "
        "BEGIN UPDATE tags SET todo_count = todo_count - 1 WHERE id = OLD.tag_id; END",
        "CREATE TRIGGER todo_tags_count_move AFTER UPDATE OF tag_id ON todo_tags "
        "FOR EACH ROW WHEN OLD.tag_id IS NOT NEW.tag_id BEGIN "
        "UPDATE tags SET todo_count = todo_count - 1 WHERE id = OLD.tag_id; "
        "UPDATE tags SET todo_count = todo_count + 1 WHERE id = NEW.tag_id; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION todo_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'INSERT' THEN UPDATE tags SET todo_count = todo_count + counted.n "
        "FROM (SELECT tag_id, count(*) AS n FROM new_rows GROUP BY tag_id) AS counted "
        "WHERE tags.id = counted.tag_id; "
        "ELSIF TG_OP = 'DELETE' THEN UPDATE tags SET todo_count = todo_count - counted.n "
        "FROM (SELECT tag_id, count(*) AS n FROM old_rows GROUP BY tag_id) AS counted "
        "WHERE tags.id = counted.tag_id; "
        "ELSE UPDATE tags SET todo_count = todo_count - 1 WHERE id = OLD.tag_id; "
        "UPDATE tags SET todo_count = todo_count + 1 WHERE id = NEW.tag_id; "
        "END IF; "
        "RETURN NULL; "
        "END $$",
        "CREATE TRIGGER todo_tags_count_insert AFTER INSERT ON todo_tags "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION todo_tags_count()",
        "CREATE TRIGGER todo_tags_count_delete AFTER DELETE ON todo_tags "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION todo_tags_count()",
        "CREATE TRIGGER todo_tags_count_move AFTER UPDATE OF tag_id ON todo_tags "
        "FOR EACH ROW WHEN (OLD.tag_id IS DISTINCT FROM NEW.tag_id) "
        "EXECUTE FUNCTION todo_tags_count()",
    ],
}
POSITIONS = {
    "sqlite": "UPDATE todos SET position = printf('%012d', id) || 'i'",
    "postgresql": "UPDATE todos SET position = lpad(id::text, 12, '0') || 'i'",
}


# Plain ALTER TABLE ADD/DROP COLUMN (SQLite 3.35+), not batch mode: batch mode copies
# the table on SQLite, and dropping the old one would cascade to the rows that refer to it.


def upgrade():
    op.add_column("todos", sa.Column("due_at", sa.DateTime(), nullable=True))
    op.add_column(
        "todos",
        sa.Column("due_first", sa.DateTime(), nullable=False, server_default="9999-12-31 00:00:00"),
    )
    op.add_column(
        "todos",
        sa.Column("due_last", sa.DateTime(), nullable=False, server_default="0001-01-01 00:00:00"),
    )
    op.add_column(
        "todos", sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0")
    )
    op.add_column("todos", sa.Column("completed_at", sa.DateTime(), nullable=True))
    op.add_column("todos", sa.Column("position", POSITION, nullable=False, server_default=""))
    dialect = op.get_bind().dialect.name
    op.execute(POSITIONS[dialect])
    for name, columns in TODO_INDEXES.items():
        op.create_index(name, "todos", columns, unique=False)

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("todo_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_tags_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("user_id", "key", name="uq_tags_user_id"),
    )
    op.create_table(
        "todo_tags",
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("todo_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name="fk_todo_tags_tag_id_tags", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["todo_id"], ["todos.id"], name="fk_todo_tags_todo_id_todos", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tag_id", "todo_id", name="pk_todo_tags"),
    )
    op.create_index("ix_todo_tags_todo_id", "todo_tags", ["todo_id"], unique=False)
    for statement in TRIGGERS[dialect]:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS todo_tags_count() CASCADE")
    op.drop_index("ix_todo_tags_todo_id", table_name="todo_tags")
    op.drop_table("todo_tags")
    op.drop_table("tags")
    for name in reversed(TODO_INDEXES):
        op.drop_index(name, table_name="todos")
    for column in ("position", "completed_at", "priority", "due_last", "due_first", "due_at"):
        op.drop_column("todos", column)
