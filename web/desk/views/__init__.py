"""The desk's views: the queue page (queue.py), the ticket page (ticket.py) and the actions
of its routing panel (routing.py)."""
