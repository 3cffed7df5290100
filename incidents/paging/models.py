"""Escalation policies, pages and their timelines, maintenance windows."""
