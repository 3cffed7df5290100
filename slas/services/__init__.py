"""Every write of the SLA capability: calendars, policies, the clocks and the sweeper."""
