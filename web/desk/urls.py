from django.urls import path

from web.desk.views import incidents, notify, oncall, paging, queue, reports, routing, ticket

app_name = "desk"

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("rail/", queue.rail, name="rail"),
    path("bulk/", queue.bulk, name="bulk"),
    path("filters/", queue.filter_save, name="filter_save"),
    path("filters/<int:filter_id>/delete/", queue.filter_delete, name="filter_delete"),
    path("tickets/<str:reference>/", ticket.ticket, name="ticket"),
    path("tickets/<str:reference>/composer/", ticket.composer, name="composer"),
    path("tickets/<str:reference>/presence/", ticket.presence, name="presence"),
    path("tickets/<str:reference>/reply/", ticket.reply, name="reply"),
    path("tickets/<str:reference>/transition/", ticket.transition, name="transition"),
    path("tickets/<str:reference>/assign/", ticket.assign, name="assign"),
    path("tickets/<str:reference>/fields/", ticket.fields, name="fields"),
    path("tickets/<str:reference>/tags/", ticket.tags, name="tags"),
    path("tickets/<str:reference>/time/", ticket.time, name="time"),
    path("tickets/<str:reference>/links/", ticket.link_add, name="link_add"),
    path("tickets/<str:reference>/links/remove/", ticket.link_remove, name="link_remove"),
    path("tickets/<str:reference>/merge/", ticket.merge, name="merge"),
    path("tickets/<str:reference>/reroute/", routing.reroute, name="reroute"),
    path("tickets/<str:reference>/escalate/", routing.escalate, name="escalate"),
    path("notifications/", notify.notifications, name="notifications"),
    path("notifications/read/", notify.mark_read, name="notifications_read"),
    path("notifications/badge/", notify.badge, name="notifications_badge"),
    path("notifications/rules/", notify.rules, name="notify_rules"),
    path("notifications/rules/add/", notify.rule_add, name="notify_rule_add"),
    path("notifications/rules/<int:rule_id>/move/", notify.rule_move, name="notify_rule_move"),
    path(
        "notifications/rules/<int:rule_id>/delete/", notify.rule_delete, name="notify_rule_delete"
    ),
    path("notifications/contacts/add/", notify.contact_add, name="notify_contact_add"),
    path(
        "notifications/contacts/<int:method_id>/delete/",
        notify.contact_delete,
        name="notify_contact_delete",
    ),
    path("notifications/test/", notify.send_test, name="notify_test"),
    path("pages/", paging.pages, name="pages"),
    path("pages/count/", paging.pages_count, name="pages_count"),
    path("pages/figures/", paging.figures, name="page_figures"),
    path("pages/<int:page_id>/", paging.page, name="page"),
    path("pages/<int:page_id>/acknowledge/", paging.acknowledge, name="page_acknowledge"),
    path("pages/<int:page_id>/unacknowledge/", paging.unacknowledge, name="page_unacknowledge"),
    path("pages/<int:page_id>/resolve/", paging.resolve, name="page_resolve"),
    path("pages/<int:page_id>/silence/", paging.silence, name="page_silence"),
    path("oncall/", oncall.now, name="oncall"),
    path(
        "oncall/schedules/<int:schedule_id>/", oncall.schedule_calendar_page, name="oncall_calendar"
    ),
    path("oncall/cover/", oncall.cover, name="oncall_cover"),
    path("oncall/schedules/<int:schedule_id>/handoff/", oncall.handoff, name="oncall_handoff"),
    path(
        "oncall/handoffs/<int:note_id>/acknowledge/",
        oncall.handoff_acknowledge,
        name="oncall_handoff_acknowledge",
    ),
    path("reports/", reports.index, name="reports"),
    path("reports/tickets/", reports.drill, name="report_tickets"),
    path("reports/<str:key>/", reports.dashboard, name="report"),
    path("reports/<str:key>/<str:table>.csv", reports.export, name="report_export"),
    path("tickets/<str:reference>/funding/", reports.funding, name="report_funding"),
    path("incidents/", incidents.incidents, name="incidents"),
    path("incidents/declare/", incidents.declare, name="incident_declare"),
    path("incidents/action-items/", incidents.action_items, name="incident_action_items"),
    path(
        "incidents/action-items/<int:item_id>/",
        incidents.action_item_change,
        name="incident_action_item",
    ),
    path("incidents/uptime/", incidents.uptime_report, name="incident_uptime"),
    path("incidents/<int:incident_id>/", incidents.incident, name="incident"),
    path("incidents/<int:incident_id>/update/", incidents.post_update, name="incident_update"),
    path(
        "incidents/<int:incident_id>/transition/",
        incidents.transition,
        name="incident_transition",
    ),
    path("incidents/<int:incident_id>/fields/", incidents.fields, name="incident_fields"),
    path("incidents/<int:incident_id>/role/", incidents.role, name="incident_role"),
    path("incidents/<int:incident_id>/link/", incidents.link, name="incident_link"),
    path("incidents/<int:incident_id>/component/", incidents.component, name="incident_component"),
    path("incidents/<int:incident_id>/note/", incidents.note, name="incident_note"),
    path(
        "incidents/<int:incident_id>/postmortem/", incidents.postmortem, name="incident_postmortem"
    ),
    path(
        "incidents/<int:incident_id>/action-items/",
        incidents.action_item_add,
        name="incident_action_item_add",
    ),
]
