"""Notification rules per person, and each notification and delivery attempt."""
