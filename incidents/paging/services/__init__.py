"""Every write of paging: policies, pages and their actions, the escalation engine, the sweeper."""
