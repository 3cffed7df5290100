from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and metrics"

    def ready(self) -> None:
        # Operators' counters of task failures and retries (reports.prometheus): kept in
        # Redis by whichever worker ran the task, read by /metrics in the web processes.
        from celery.signals import task_failure, task_retry

        from reports.prometheus import count_task_failure, count_task_retry

        task_failure.connect(count_task_failure, weak=False, dispatch_uid="reports-task-failure")
        task_retry.connect(count_task_retry, weak=False, dispatch_uid="reports-task-retry")
