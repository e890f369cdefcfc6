from asgiref.sync import async_to_sync
from celery import shared_task


@shared_task
def sweep_orphaned_answers() -> int:
    """Answers whose web process died mid-answer and that no client resumed: stored
    `incomplete` with the text their event log holds."""
    from chat.services.answers import answers_sweep

    return async_to_sync(answers_sweep)()
