"""Knowledge-base search: the index the database keeps, the ranking, suggestions, and the
analytics of what readers searched and whether it spared them a ticket (docs/knowledgebase.md)."""
