"""The curated per-country knowledge base in content/."""

from app.knowledge.base import Answer, KnowledgeBase, ServiceMatch
from app.knowledge.loader import ContentError, load_content

__all__ = ["Answer", "ContentError", "KnowledgeBase", "ServiceMatch", "load_content"]
