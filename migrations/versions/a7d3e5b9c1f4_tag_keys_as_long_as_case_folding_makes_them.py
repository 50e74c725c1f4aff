"""Tag keys as long as case folding makes them

Revision ID: a7d3e5b9c1f4
Revises: f2a9c81d5e37
Create Date: 2026-12-05 09:30:00.000000

A tag's key is its name case-folded, which can be up to three times as long as the name
(50 characters): "ß" folds to "ss", "ﬃ" to "ffi".
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a7d3e5b9c1f4"
down_revision = "f2a9c81d5e37"
branch_labels = None
depends_on = None


def retype_key(old: int, new: int) -> None:
    """Change the type of tags.key. SQLite's batch mode rebuilds the table and renames the
    copy, which the triggers naming `tags` (the tag counts, on todo_tags) would fail: they
    are set aside, as SQLite stores them, and put back after."""
    bind = op.get_bind()
    triggers = []
    if bind.dialect.name == "sqlite":
        triggers = bind.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%tags%'"
        ).all()
        for name, _ in triggers:
            op.execute(f'DROP TRIGGER "{name}"')
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.alter_column(
            "key",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
    for _, sql in triggers:
        op.execute(sql)


def upgrade():
    retype_key(50, 150)


def downgrade():
    retype_key(150, 50)
