"""Insights: what people write about, what goes unanswered, opt-outs, erasures, delivery failures, fallbacks.

sql aggregates in the database, words groups unanswered texts, charts and export present them, views serves them.
"""

from app.console.insights.views import router

__all__ = ["router"]
