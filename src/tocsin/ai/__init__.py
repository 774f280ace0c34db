"""The chat planner: a sentence in, a proposed alert (or a question) out.

``tocsin.ai.planner.plan`` drafts; ``tocsin.ai.service.chat`` drafts and, on confirmation,
saves. Nothing is ever saved without the user's confirmation.
"""
