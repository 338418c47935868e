"""delivery statuses up to 32 characters: Twilio's "partially_delivered" has 19

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("delivery_statuses", "alert_deliveries")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("status", type_=sqlmodel.sql.sqltypes.AutoString(length=32),
                               existing_type=sqlmodel.sql.sqltypes.AutoString(length=16), existing_nullable=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("status", type_=sqlmodel.sql.sqltypes.AutoString(length=16),
                               existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), existing_nullable=False)
