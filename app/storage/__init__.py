"""The database: engine, tables, the conversation store and the migrations."""
