"""The desk's views: the queue page (queue.py) and the ticket page (ticket.py)."""
