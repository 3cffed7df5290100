"""Every write of incidents: lifecycle (declare, change, roles, links, notes), updates
(status updates and their fan-out), reminders (the sweeper) and postmortems."""
